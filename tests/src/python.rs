//! Python guests: built with componentize-py (installed by the harness itself, at the pinned
//! version, into `target/python/venv`) against the `sockbox:socket/plugin` world, with the
//! `python/sockbox` package on the path. A build is cached in `target/python` and redone only
//! when a source, the WIT or the pinned version changes.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The componentize-py release Python guests are built with (it bundles CPython 3.14).
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// The WIT world a Python plugin targets.
pub const WORLD: &str = "sockbox:socket/plugin";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is in the workspace")
        .to_path_buf()
}

/// The `componentize-py` command of the harness's own virtual environment, made (with
/// `python3 -m venv` and pip) on first use.
///
/// # Panics
/// When `python3` or the package index is unavailable, with what failed.
pub fn componentize_py() -> PathBuf {
    static TOOL: OnceLock<PathBuf> = OnceLock::new();
    TOOL.get_or_init(|| {
        let venv = workspace_root()
            .join("target/python")
            .join(format!("venv-{COMPONENTIZE_PY}"));
        let tool = venv.join("bin/componentize-py");
        if !tool.exists() {
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
            run(Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .arg(format!("componentize-py=={COMPONENTIZE_PY}")));
        }
        tool
    })
    .clone()
}

/// The component built from Python module `module` (a file `module.py` in `app_dir`, relative
/// to the workspace root), built once and cached on disk.
///
/// # Panics
/// When the build fails, with componentize-py's output.
pub fn build(app_dir: &str, module: &str) -> PathBuf {
    build_with(app_dir, module, &[])
}

/// [`build`], with pure-Python packages from PyPI on the path too (`"redis==8.1.0"`: pinned
/// requirements, dependencies listed too), installed once into `target/python/site-*`.
///
/// # Panics
/// When pip or the build fails, with their output.
pub fn build_with(app_dir: &str, module: &str, packages: &[&str]) -> PathBuf {
    // One build at a time: builds of a test binary's threads would race on the same files.
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = workspace_root();
    let out_dir = root.join("target/python");
    std::fs::create_dir_all(&out_dir).expect("target/python");
    let out = out_dir.join(format!("{module}.wasm"));
    let stamp = out_dir.join(format!("{module}.stamp"));
    let site = (!packages.is_empty()).then(|| site_packages(packages));

    let mut hasher = DefaultHasher::new();
    COMPONENTIZE_PY.hash(&mut hasher);
    packages.hash(&mut hasher);
    for dir in ["python", app_dir, "wit"] {
        hash_tree(&root.join(dir), &mut hasher);
    }
    let key = format!("{:016x}", hasher.finish());
    if out.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == key) {
        return out;
    }
    let tool = componentize_py();
    run(Command::new(tool)
        .current_dir(&root)
        .args([
            "-d",
            "wit",
            "-w",
            WORLD,
            "componentize",
            "-p",
            "python",
            "-p",
        ])
        .arg(app_dir)
        .args(site.iter().flat_map(|dir| [Path::new("-p"), dir.as_path()]))
        .arg(module)
        .arg("-o")
        .arg(&out));
    std::fs::write(&stamp, key).expect("stamp");
    out
}

/// A directory holding `packages` (pip's `--target`), made on first use.
fn site_packages(packages: &[&str]) -> PathBuf {
    let mut hasher = DefaultHasher::new();
    packages.hash(&mut hasher);
    let dir = workspace_root()
        .join("target/python")
        .join(format!("site-{:016x}", hasher.finish()));
    if !dir.join(".complete").exists() {
        let pip = componentize_py().with_file_name("pip");
        run(Command::new(pip)
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
            ])
            // Pure-Python wheels only: the guest is CPython for WASI, not this machine's.
            .args([
                "--only-binary",
                ":all:",
                "--platform",
                "any",
                "--implementation",
                "py",
            ])
            .args(["--python-version", "3.14", "--target"])
            .arg(&dir)
            .args(packages));
        std::fs::write(dir.join(".complete"), packages.join("\n")).expect("site stamp");
    }
    dir
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

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
