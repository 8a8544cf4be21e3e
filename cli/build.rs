//! Builds the example plugins to wasm so `sockbox demo` can embed `demo.wasm`, and lists the
//! files of sockbox's Python package and WIT so `sockbox python build` carries them.

use std::path::{Path, PathBuf};

fn main() {
    let dir = sockbox_guest_build::build(&["sockbox-examples"]);
    println!(
        "cargo:rustc-env=SOCKBOX_DEMO_WASM={}",
        dir.join("demo.wasm").display()
    );

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    collect(&root, Path::new("python/sockbox"), "py", &mut files);
    collect(&root, Path::new("wit"), "wit", &mut files);
    files.sort();
    let mut list = String::from("&[\n");
    for rel in &files {
        let abs = root.join(rel).canonicalize().expect("embedded file");
        println!("cargo:rerun-if-changed={}", abs.display());
        list += &format!(
            "    ({:?}, include_bytes!({:?})),\n",
            rel.to_str().expect("UTF-8 path"),
            abs.to_str().expect("UTF-8 path")
        );
    }
    list += "]\n";
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("python_sdk.rs"), list).expect("python_sdk.rs");
}

/// Every file under `root/dir` with extension `ext`, as paths relative to `root`.
fn collect(root: &Path, dir: &Path, ext: &str, files: &mut Vec<PathBuf>) {
    println!("cargo:rerun-if-changed={}", root.join(dir).display());
    for entry in std::fs::read_dir(root.join(dir)).expect("embedded directory") {
        let path = dir.join(entry.expect("dir entry").file_name());
        if root.join(&path).is_dir() {
            if path.file_name().is_some_and(|n| n != "__pycache__") {
                collect(root, &path, ext, files);
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            files.push(path);
        }
    }
}
