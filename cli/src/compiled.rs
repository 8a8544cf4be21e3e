//! Compiled components kept between runs, so a component is compiled on its first run only.
//!
//! Each entry is the precompiled form of one component (`sockbox compile`'s output), named by
//! the SHA-256 of the component's bytes, this program's version and the engine flavour, in
//! `compiled/` under sockbox's cache directory. A later run maps the entry (its code and memory
//! images are paged in from the file as used), which starts a Python plugin in about a tenth
//! of the time and half the memory of wasmtime's own cache, which reads and decompresses its
//! entries. The most recently used entries are kept.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// How many compiled components the cache keeps.
const KEEP: usize = 16;

/// The component at `path`, compiled for `engine` (whose settings `flavour` names), from the
/// cache or compiled now (with `compile`, which may say so) and kept.
pub(crate) fn load(
    engine: &Engine,
    path: &Path,
    flavour: &str,
    compile: impl FnOnce(&[u8]) -> Result<Vec<u8>>,
) -> Result<Component> {
    let dir = sockbox_cli::cache_dir().join("compiled");
    let entry = dir.join(format!("{}.cwasm", key(path, flavour)?));
    if entry.exists() {
        // SAFETY: an entry this program wrote into the user's own cache directory, named by the
        // hash of the component it was compiled from; wasmtime refuses one written by another
        // version of itself or for other engine settings (it is then compiled again).
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &entry) } {
            let _ = std::fs::File::options()
                .append(true)
                .open(&entry)
                .and_then(|f| f.set_modified(SystemTime::now()));
            return Ok(component);
        }
    }
    let wasm = std::fs::read(path)?;
    let compiled = compile(&wasm)?;
    drop(wasm);
    if store(&dir, &entry, &compiled).is_ok() {
        drop(compiled);
        // SAFETY: the file just written from this engine's own output.
        return unsafe { Component::deserialize_file(engine, &entry) }.map_err(Into::into);
    }
    // No usable cache directory: from memory, compiling again next time.
    // SAFETY: this engine's own output, never out of this process.
    unsafe { Component::deserialize(engine, &compiled) }.map_err(Into::into)
}

/// The entry's name: SHA-256 of this program's version, the flavour and the component.
fn key(path: &Path, flavour: &str) -> Result<String> {
    let mut hash = Sha256::new();
    hash.update(concat!("sockbox ", env!("CARGO_PKG_VERSION"), "\n"));
    hash.update(flavour);
    hash.update("\n");
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes the entry (whole, or not at all), then drops the least recently used beyond
/// [`KEEP`].
fn store(dir: &PathBuf, entry: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let partial = entry.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, entry)?;
    let mut entries: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    entries.sort();
    let excess = entries.len().saturating_sub(KEEP);
    for (_, old) in entries.into_iter().take(excess) {
        let _ = std::fs::remove_file(old);
    }
    Ok(())
}
