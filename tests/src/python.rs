//! Python guests, built the way a plugin author builds them: with `sockbox python build`'s
//! library ([`sockbox_cli::python::Build`]: componentize-py at its pinned version, sockbox's
//! Python package and WIT, vendored requirements, every module the code imports brought into
//! the snapshot), with `target/python` as its cache. A build is cached there too and redone
//! only when a source, the WIT or the pinned version changes.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sockbox_cli::python::{Build, COMPONENTIZE_PY};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// The component built from Python module `module` (a file `module.py` in `app_dir`, relative
/// to the workspace root), built once and cached on disk.
///
/// # Panics
/// When the build fails, with componentize-py's output.
pub fn build(app_dir: &str, module: &str) -> PathBuf {
    build_with(app_dir, module, &[])
}

/// [`build`], with pure-Python packages from PyPI on the path too (`"redis==8.1.0"`, with
/// their dependencies), installed once into `target/python/site-*`.
///
/// # Panics
/// When pip or the build fails, with their output.
pub fn build_with(app_dir: &str, module: &str, packages: &[String]) -> PathBuf {
    build_full(app_dir, module, packages, &[])
}

/// [`build_with`], with modules to import at build time besides those found in the code
/// (`sockbox python build --import`).
///
/// # Panics
/// When pip or the build fails, with their output.
pub fn build_full(
    app_dir: &str,
    module: &str,
    packages: &[String],
    preimport: &[String],
) -> PathBuf {
    // One build at a time: builds of a test binary's threads would race on the same files.
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = workspace_root();
    let out_dir = root.join("target/python");
    std::fs::create_dir_all(&out_dir).expect("target/python");
    let out = out_dir.join(format!("{module}.wasm"));
    let stamp = out_dir.join(format!("{module}.stamp"));

    let mut hasher = DefaultHasher::new();
    COMPONENTIZE_PY.hash(&mut hasher);
    packages.hash(&mut hasher);
    preimport.hash(&mut hasher);
    for dir in ["python", app_dir, "wit", "cli/src"] {
        hash_tree(&root.join(dir), &mut hasher);
    }
    let key = format!("{:016x}", hasher.finish());
    if out.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == key) {
        return out;
    }
    let mut build = Build::new(root.join(app_dir).join(format!("{module}.py")), &out);
    build.packages = packages.to_vec();
    build.preimport = preimport.to_vec();
    build.cache = out_dir;
    if let Err(e) = build.run(&mut |_| {}) {
        panic!("building the Python plugin {module}: {e:?}");
    }
    std::fs::write(&stamp, key).expect("stamp");
    out
}

/// The packages `examples/python/MODULE.requirements.txt` pins (one per line, `#` comments).
///
/// # Panics
/// When the file cannot be read.
pub fn example_requirements(module: &str) -> Vec<String> {
    let file = workspace_root().join(format!("examples/python/{module}.requirements.txt"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(String::from)
        .collect()
}

/// The files built plugin `module` carries (its packages' data files), written out under
/// `target/python/plugin-files`, as directories to preopen: `(host path, guest path)`, what
/// `sockbox run` mounts read-only.
///
/// # Panics
/// When the plugin was not built or its files cannot be written.
pub fn plugin_files(module: &str) -> Vec<(PathBuf, String)> {
    let out = workspace_root().join("target/python");
    let wasm = std::fs::read(out.join(format!("{module}.wasm"))).expect("built plugin");
    sockbox_host::plugin_files::PluginFiles::of(&wasm)
        .and_then(|files| files.extract(&out.join("plugin-files")))
        .expect("plugin files")
}

/// Where [`build_with`] installed `packages` (a `--target` directory of pure-Python packages a
/// native `python3` can use too, through `PYTHONPATH`); it exists once a build with them ran.
pub fn site_dir(packages: &[String]) -> PathBuf {
    let mut build = Build::new("", "");
    build.packages = packages.to_vec();
    build.cache = workspace_root().join("target/python");
    build
        .site_dir()
        .expect("no requirements files")
        .expect("packages given")
}

/// Hashes every file under `dir` (paths and contents, in a stable order), skipping caches.
fn hash_tree(dir: &Path, hasher: &mut DefaultHasher) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.file_name().is_some_and(|n| n == "__pycache__") {
            continue;
        }
        if path.is_dir() {
            hash_tree(&path, hasher);
        } else {
            path.hash(hasher);
            std::fs::read(&path).expect("source").hash(hasher);
        }
    }
}
