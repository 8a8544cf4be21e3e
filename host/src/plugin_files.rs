//! Files a plugin carries inside its component, mounted read-only where it expects them.
//!
//! componentize-py snapshots a Python plugin's modules, but not the data files its packages
//! read by path at run time (certifi's CA bundle, which requests checks and loads; time zone
//! data; package metadata). `sockbox python build` stores those files in the component, one
//! custom section each, named [`SECTION_PREFIX`] and the file's path in the guest;
//! [`PluginFiles::mount`] writes them out on the host (a cache directory named by their
//! contents) and preopens them read-only at those paths. Runtimes that ignore the sections run
//! the plugin as before, without the files.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// The start of the name of a custom section holding one file; the file's guest path follows.
pub const SECTION_PREFIX: &str = "sockbox:file ";

/// What went wrong reading or mounting a plugin's files.
#[derive(Debug, thiserror::Error)]
pub enum PluginFilesError {
    /// The component is not valid WebAssembly where its sections are framed.
    #[error("reading the component's sections: {0}")]
    Parse(#[from] wasmparser::BinaryReaderError),
    /// A section claims more bytes than the component has.
    #[error("the component ends inside a section")]
    Truncated,
    /// A file's guest path is not a plain absolute path below a top directory.
    #[error("a plugin file's guest path {0:?} is not /DIR/NAME without `.` or `..`")]
    BadPath(String),
    /// Writing the files out or preopening them failed.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
}

/// The files a component carries (guest path and contents), in the order it stores them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PluginFiles {
    files: Vec<(String, Vec<u8>)>,
}

impl PluginFiles {
    /// The files in component (or module) `wasm`; none when it carries none.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn of(wasm: &[u8]) -> Result<Self, PluginFilesError> {
        Self::read(std::io::Cursor::new(wasm))
    }

    /// The files in the component (or module) `wasm` reads, reading only its top-level
    /// sections: the nested modules, the bulk of a component, are skipped by seeking, so a
    /// runner can look into a 20 MB plugin at each start without reading it.
    ///
    /// # Errors
    /// When the binary's sections cannot be read, or a path is not a plain absolute path with
    /// at least a top directory and a name (a hostile component must not write outside the
    /// directory its files go to, nor mount over `/`).
    pub fn read(mut wasm: impl Read + Seek) -> Result<Self, PluginFilesError> {
        use wasmparser::{Chunk, Payload};
        let io = |e| PluginFilesError::Io("reading the component".into(), e);
        let mut files = Vec::new();
        let mut parser = wasmparser::Parser::new(0);
        let len = wasm.seek(SeekFrom::End(0)).map_err(io)?;
        wasm.seek(SeekFrom::Start(0)).map_err(io)?;
        // `buf[at..]` are the bytes not parsed yet; `eof` once `wasm` has no more.
        let (mut buf, mut at, mut eof) = (Vec::new(), 0, false);
        loop {
            let (consumed, payload) = match parser.parse(&buf[at..], eof)? {
                Chunk::NeedMoreData(hint) => {
                    buf.drain(..at);
                    at = 0;
                    let want = usize::try_from(hint).unwrap_or(usize::MAX).max(64 << 10);
                    let got = (&mut wasm)
                        .take(want as u64)
                        .read_to_end(&mut buf)
                        .map_err(io)?;
                    eof = got == 0;
                    continue;
                }
                Chunk::Parsed { consumed, payload } => (consumed, payload),
            };
            at += consumed;
            // Where reading goes on past a section skipped whole.
            let skip_to = match payload {
                Payload::CustomSection(section) => {
                    if let Some(path) = section.name().strip_prefix(SECTION_PREFIX) {
                        relative(path)?;
                        files.push((path.to_string(), section.data().to_vec()));
                    }
                    None
                }
                // The top level's sections only: nested modules and components are skipped.
                Payload::ModuleSection {
                    unchecked_range, ..
                }
                | Payload::ComponentSection {
                    unchecked_range, ..
                } => Some(unchecked_range.end as u64),
                Payload::CodeSectionStart { range, .. } => {
                    parser.skip_section();
                    Some(range.end as u64)
                }
                Payload::End(_) => break,
                _ => None,
            };
            if let Some(end) = skip_to {
                if end > len {
                    return Err(PluginFilesError::Truncated);
                }
                wasm.seek(SeekFrom::Start(end)).map_err(io)?;
                buf.clear();
                (at, eof) = (0, false);
            }
        }
        Ok(Self { files })
    }

    /// Files to carry, as `(guest path, contents)`.
    pub fn new(files: Vec<(String, Vec<u8>)>) -> Self {
        Self { files }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The files, as `(guest path, contents)`.
    pub fn files(&self) -> &[(String, Vec<u8>)] {
        &self.files
    }

    /// Appends them to component `wasm`, a custom section each.
    pub fn append_to(&self, wasm: &mut Vec<u8>) {
        use wasm_encoder::ComponentSection;
        for (path, data) in &self.files {
            wasm_encoder::CustomSection {
                name: format!("{SECTION_PREFIX}{path}").into(),
                data: data.as_slice().into(),
            }
            .append_to_component(wasm);
        }
    }

    /// Writes the files under `cache` (in a directory named by their contents, written once
    /// and reused) and returns the directories to preopen: `(host directory, guest path)`, one
    /// per top directory of the guest paths.
    ///
    /// # Errors
    /// When the files cannot be written.
    pub fn extract(&self, cache: &Path) -> Result<Vec<(PathBuf, String)>, PluginFilesError> {
        use sha2::{Digest, Sha256};
        let io = |what: &Path| {
            let what = what.display().to_string();
            move |e| PluginFilesError::Io(what, e)
        };
        // Named by a cryptographic hash of paths and contents: another plugin cannot make
        // files that take this one's place.
        let mut hash = Sha256::new();
        for (path, data) in &self.files {
            hash.update((path.len() as u64).to_le_bytes());
            hash.update(path);
            hash.update((data.len() as u64).to_le_bytes());
            hash.update(data);
        }
        let digest: String = hash.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dir = cache.join(format!("files-{digest}"));
        if !dir.join(".complete").exists() {
            // Written beside (a name of this call's own), then renamed: a run never sees half
            // the files.
            static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let part = cache.join(format!("files-{}-{call}.part", std::process::id()));
            let _ = std::fs::remove_dir_all(&part);
            for (path, data) in &self.files {
                let file = part.join(relative(path)?);
                let parent = file.parent().unwrap_or(&part);
                std::fs::create_dir_all(parent).map_err(io(parent))?;
                std::fs::write(&file, data).map_err(io(&file))?;
            }
            std::fs::create_dir_all(&part).map_err(io(&part))?;
            std::fs::write(part.join(".complete"), "").map_err(io(&part))?;
            if std::fs::rename(&part, &dir).is_err() {
                // Another run put the same files there first.
                let _ = std::fs::remove_dir_all(&part);
            }
        }
        let mut tops: Vec<&str> = Vec::new();
        for (path, _) in &self.files {
            let top = relative(path)?
                .components()
                .next()
                .and_then(|c| c.as_os_str().to_str())
                .unwrap_or_default();
            if !tops.contains(&top) {
                tops.push(top);
            }
        }
        Ok(tops
            .into_iter()
            .map(|top| (dir.join(top), format!("/{top}")))
            .collect())
    }

    /// [`extract`](Self::extract)s the files and preopens their directories read-only in
    /// `wasi` at their guest paths.
    ///
    /// # Errors
    /// When the files cannot be written or preopened.
    pub fn mount(&self, cache: &Path, wasi: &mut WasiCtxBuilder) -> Result<(), PluginFilesError> {
        for (host, guest) in self.extract(cache)? {
            wasi.preopened_dir(&host, &guest, FsPerms::ReadOnly)
                .map_err(|e| {
                    PluginFilesError::Io(host.display().to_string(), std::io::Error::other(e))
                })?;
        }
        Ok(())
    }
}

/// `path` (absolute, at least two parts, none empty, `.` or `..`) relative to `/`.
fn relative(path: &str) -> Result<&Path, PluginFilesError> {
    let bad = || PluginFilesError::BadPath(path.chars().take(200).collect());
    let relative = path.strip_prefix('/').ok_or_else(bad)?;
    let mut parts = 0;
    for part in relative.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\0') {
            return Err(bad());
        }
        parts += 1;
    }
    if parts < 2 {
        return Err(bad());
    }
    Ok(Path::new(relative))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_through_a_component() {
        let mut wasm = wasm_encoder::Component::new().finish();
        let files = PluginFiles::new(vec![
            ("/3/certifi/cacert.pem".to_string(), b"roots".to_vec()),
            ("/3/pkg/data/x.bin".to_string(), vec![0, 1, 2]),
            ("/4/tz/UTC".to_string(), Vec::new()),
        ]);
        files.append_to(&mut wasm);
        assert_eq!(PluginFiles::of(&wasm).unwrap(), files);
        let cache = tempfile::tempdir().unwrap();
        let mounts = files.extract(cache.path()).unwrap();
        let guests: Vec<&str> = mounts.iter().map(|(_, g)| g.as_str()).collect();
        assert_eq!(guests, ["/3", "/4"]);
        let pem = std::fs::read(mounts[0].0.join("certifi/cacert.pem")).unwrap();
        assert_eq!(pem, b"roots");
        // A second extraction reuses the first.
        assert_eq!(files.extract(cache.path()).unwrap(), mounts);
    }

    #[test]
    fn paths_that_escape_are_refused() {
        let paths = [
            "3/x",
            "/x",
            "/3/../../etc/passwd",
            "/3/./x",
            "/",
            "/3/x\0y",
            "//x",
            "/3/",
        ];
        for path in paths {
            let mut wasm = wasm_encoder::Component::new().finish();
            PluginFiles::new(vec![(path.to_string(), b"x".to_vec())]).append_to(&mut wasm);
            assert!(
                matches!(PluginFiles::of(&wasm), Err(PluginFilesError::BadPath(_))),
                "{path:?}"
            );
        }
    }
}
