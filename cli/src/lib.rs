//! The `sockbox` command's library side: what the command does that other tools (and the
//! test suite) reuse.

pub mod python;

use std::path::PathBuf;

/// sockbox's cache directory (compiled components, componentize-py, vendored packages):
/// `$SOCKBOX_CACHE_DIR`, else `$XDG_CACHE_HOME/sockbox`, else `~/.cache/sockbox`.
pub fn cache_dir() -> PathBuf {
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("SOCKBOX_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("sockbox")))
        .or_else(|| var("HOME").map(|d| d.join(".cache/sockbox")))
        .unwrap_or_else(|| std::env::temp_dir().join("sockbox-cache"))
}
