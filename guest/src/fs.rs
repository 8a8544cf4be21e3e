//! Opening files as wasi descriptors, for [`Socket::sendfile`](crate::Socket::sendfile) and
//! [`send_fds`](crate::send_fds).
//!
//! `std::fs::File` on `wasm32-wasip2` keeps its wasi descriptor private, so a file to send
//! with zero copies is opened here instead: through the directories the host preopened
//! (`sockbox run --dir HOST::GUEST`).

use std::path::Path;

pub use wasi::filesystem::types::{Descriptor, DescriptorStat, DescriptorType};
use wasi::filesystem::types::{DescriptorFlags, ErrorCode, OpenFlags, PathFlags};

use crate::{Errno, Error, Result};

/// Opens `path` for reading, through the preopened directory it lies under (an absolute
/// path under a `--dir` guest path, or a relative one when `.` is preopened).
///
/// # Errors
/// `no-entry` when no preopened directory holds it, or it does not exist; `access`.
pub fn open(path: impl AsRef<Path>) -> Result<Descriptor> {
    PREOPENS.with(|dirs| open_in(dirs, path.as_ref()))
}

thread_local! {
    /// The preopened directories, asked of the host once (each asking makes new handles).
    static PREOPENS: Vec<(Descriptor, String)> = wasi::filesystem::preopens::get_directories();
}

fn open_in(dirs: &[(Descriptor, String)], path: &Path) -> Result<Descriptor> {
    for (dir, guest) in dirs {
        let guest = guest.as_str();
        let rest = if path.is_relative() && (guest == "." || guest == "./") {
            Some(path)
        } else {
            path.strip_prefix(guest).ok()
        };
        let Some(rest) = rest else { continue };
        let rest = rest
            .to_str()
            .ok_or_else(|| Error::value("path is not UTF-8"))?;
        let rest = if rest.is_empty() { "." } else { rest };
        let open = |how| dir.open_at(PathFlags::SYMLINK_FOLLOW, rest, how, DescriptorFlags::READ);
        // A directory opens as one (as os.open(dir, O_RDONLY) does).
        return open(OpenFlags::empty())
            .or_else(|e| match e {
                ErrorCode::IsDirectory | ErrorCode::BadDescriptor => open(OpenFlags::DIRECTORY),
                e => Err(e),
            })
            .map_err(error);
    }
    Err(Error::Os {
        errno: Errno::NoEntry,
        message: format!(
            "No such file or directory ({} is under no preopened directory)",
            path.display()
        ),
    })
}

/// A wasi filesystem error as a sockbox error.
pub(crate) fn error(e: ErrorCode) -> Error {
    let errno = match e {
        ErrorCode::Access | ErrorCode::NotPermitted => Errno::Access,
        ErrorCode::NoEntry => Errno::NoEntry,
        ErrorCode::Exist => Errno::Exists,
        ErrorCode::NameTooLong => Errno::NameTooLong,
        ErrorCode::BadDescriptor => Errno::BadDescriptor,
        ErrorCode::Unsupported => Errno::NotSupported,
        ErrorCode::InsufficientMemory => Errno::NoMemory,
        ErrorCode::Invalid => Errno::Invalid,
        _ => Errno::Io,
    };
    Error::Os {
        errno,
        message: format!("{} (wasi: {})", errno.message(), e.name()),
    }
}
