//! Compiles guest programs of this workspace to `wasm32-wasip2` components from a build
//! script, once, into `target/guests` (incremental: cargo rebuilds only what changed).
//!
//! The inner cargo gets its own target dir (with the outer one it would wait forever on the
//! build-directory lock) and none of the outer build's `CARGO_*`/`RUSTFLAGS`/wrapper settings
//! (clippy's wrapper, say), so it builds exactly as `cargo build --release --target
//! wasm32-wasip2` would.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target guests are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Builds `packages` (all their bins) in release mode and returns the directory holding the
/// `.wasm` components. Emits `rerun-if-changed` for everything a guest is built from.
///
/// # Panics
/// When the build fails (the build script fails with cargo's output), e.g. when the
/// `wasm32-wasip2` target is not installed (`rustup target add wasm32-wasip2`).
pub fn build(packages: &[&str]) -> PathBuf {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("build script"));
    let root = workspace_root(&manifest_dir);
    for dir in [
        "guest",
        "wit",
        "examples",
        "tests/guests",
        "bench/guests",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    ensure_target(&root);
    let target_dir = root.join("target").join("guests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    for (key, _) in std::env::vars_os() {
        let key_str = key.to_string_lossy();
        let leaks = (key_str.starts_with("CARGO_") && key_str != "CARGO_HOME")
            || matches!(
                &*key_str,
                "RUSTFLAGS"
                    | "RUSTC"
                    | "RUSTC_WRAPPER"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "RUSTDOCFLAGS"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "OPT_LEVEL"
                    | "PROFILE"
                    | "DEBUG"
            );
        if leaks {
            cmd.env_remove(&key);
        }
    }
    let out = cmd.output().expect("running cargo for the guests");
    if !out.status.success() {
        panic!(
            "building guests {packages:?} for {TARGET} failed (is the target installed? \
             `rustup target add {TARGET}`):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    target_dir.join(TARGET).join("release")
}

/// Installs the `wasm32-wasip2` standard library when the toolchain lacks it: rustup installs
/// nothing on demand, and without it the guests cannot build. Run in the workspace, so the
/// toolchain `rust-toolchain.toml` pins gets it. Without rustup, the build fails later with
/// the advice below.
fn ensure_target(root: &Path) {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .current_dir(root)
        .output();
    let installed = sysroot.is_ok_and(|out| {
        out.status.success() && Path::new(String::from_utf8_lossy(&out.stdout).trim()).is_dir()
    });
    if installed {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target (rustup target add {TARGET})");
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .current_dir(root)
        .status();
    if !added.is_ok_and(|s| s.success()) {
        println!(
            "cargo:warning=could not install {TARGET}: run `rustup target add {TARGET}` in this checkout"
        );
    }
}

/// The workspace root: the nearest ancestor with a `Cargo.lock` or `[workspace]` manifest.
fn workspace_root(start: &Path) -> PathBuf {
    start
        .ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml")).is_ok_and(|t| t.contains("[workspace]"))
        })
        .unwrap_or(start)
        .to_path_buf()
}
