//! Binding a Unix path where the rules said, whatever is renamed meanwhile.
//!
//! bind(2) takes the path the gate checked, so the kernel records the name the guest's peers
//! see (`getsockname`, a datagram's sender). The directory it goes in is opened first, following
//! no symlink; after the bind, the host asks the kernel (sock_diag, `UNIX_DIAG_VFS`) which file
//! the socket is bound to and checks that it is the one in that directory. If a directory on
//! the path was swapped in between, the socket is bound somewhere no rule allows: it is shut
//! down and the bind fails, and the caller closes it.

use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, OFlags};
use rustix::net::{AddressFamily, SocketFlags, SocketType, netlink};

use crate::core::error::SocketError;
use crate::core::policy::{open_no_symlinks, symlink_refused};
use crate::core::types::Errno;

/// The directory a Unix path is bound in, held open from before the bind.
pub(crate) struct BindDir {
    dir: OwnedFd,
    name: OsString,
}

impl BindDir {
    /// Opens the directory of `path` (resolved by the gate: no symlink in it), following no
    /// symlink. `None` when there is nothing to open (no parent, or it is missing: bind then
    /// fails as the OS says).
    pub(crate) fn open(path: &Path) -> Result<Option<BindDir>, SocketError> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Ok(None);
        };
        match open_no_symlinks(parent, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC) {
            Ok(dir) => Ok(Some(BindDir {
                dir,
                name: name.to_os_string(),
            })),
            Err(rustix::io::Errno::LOOP) => Err(symlink_refused()),
            Err(_) => Ok(None),
        }
    }

    /// Whether `sock`, just bound, is bound to the file of that name in this directory. When
    /// the kernel cannot say (no sock_diag), whether a socket file of that name is there.
    pub(crate) fn holds(&self, sock: &impl AsFd) -> bool {
        let Ok(file) = rustix::fs::statat(&self.dir, &self.name, AtFlags::SYMLINK_NOFOLLOW) else {
            return false;
        };
        if FileType::from_raw_mode(file.st_mode) != FileType::Socket {
            return false;
        }
        match bound_file(sock) {
            // sock_diag reports the inode in 32 bits.
            Some((dev, ino)) => {
                ino == file.st_ino & 0xFFFF_FFFF
                    && dev
                        == (
                            rustix::fs::major(file.st_dev),
                            rustix::fs::minor(file.st_dev),
                        )
            }
            None => true,
        }
    }
}

impl std::fmt::Debug for BindDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindDir")
            .field("dir", &self.dir.as_raw_fd())
            .field("name", &self.name)
            .finish()
    }
}

/// What a bind that landed outside the checked directory fails with.
pub(crate) fn bound_elsewhere() -> SocketError {
    SocketError::os(
        Errno::Access,
        "Permission denied (a directory on the path changed during bind; the socket is closed)",
    )
}

/// sock_diag's message type for a query by family.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `unix_diag_req.udiag_show`: report the bound file (`UNIX_DIAG_VFS`).
const UDIAG_SHOW_VFS: u32 = 0x2;
/// The attribute carrying `struct unix_diag_vfs`.
const UNIX_DIAG_VFS: u16 = 1;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;

/// The (major, minor) device and inode of the file `sock` is bound to, from the kernel's
/// sock_diag; `None` when it cannot answer.
fn bound_file(sock: &impl AsFd) -> Option<((u32, u32), u64)> {
    let ino = u32::try_from(rustix::fs::fstat(sock).ok()?.st_ino).ok()?;
    let nl = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )
    .ok()?;
    // struct nlmsghdr, then struct unix_diag_req (all fields native-endian).
    let mut req = Vec::with_capacity(40);
    req.extend_from_slice(&40u32.to_ne_bytes()); // nlmsg_len
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // seq
    req.extend_from_slice(&0u32.to_ne_bytes()); // pid: the kernel
    req.push(libc::AF_UNIX as u8); // sdiag_family
    req.push(0); // sdiag_protocol
    req.extend_from_slice(&0u16.to_ne_bytes()); // pad
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // udiag_states: any
    req.extend_from_slice(&ino.to_ne_bytes()); // udiag_ino
    req.extend_from_slice(&UDIAG_SHOW_VFS.to_ne_bytes());
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // udiag_cookie: none
    req.extend_from_slice(&u32::MAX.to_ne_bytes());
    rustix::net::send(&nl, &req, rustix::net::SendFlags::empty()).ok()?;
    let mut buf = [0u8; 512];
    let (n, _) = rustix::net::recv(&nl, &mut buf, rustix::net::RecvFlags::empty()).ok()?;
    parse_vfs(buf.get(..n)?, ino)
}

/// The `UNIX_DIAG_VFS` attribute of the answer about socket `ino`: (major, minor), inode.
fn parse_vfs(msg: &[u8], ino: u32) -> Option<((u32, u32), u64)> {
    let u16_at = |at: usize| Some(u16::from_ne_bytes(msg.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_ne_bytes(msg.get(at..at + 4)?.try_into().ok()?));
    let len = usize::try_from(u32_at(0)?).ok()?.min(msg.len());
    if u16_at(4)? == NLMSG_ERROR || u32_at(16 + 4)? != ino {
        return None;
    }
    // After the 16-byte header and the 16-byte unix_diag_msg: attributes, 4-byte aligned.
    let mut at = 32;
    while at + 4 <= len {
        let attr_len = usize::from(u16_at(at)?);
        if attr_len < 4 {
            return None;
        }
        if u16_at(at + 2)? == UNIX_DIAG_VFS {
            let vfs_ino = u32_at(at + 4)?;
            // The kernel's own dev_t: 12 bits of major above 20 of minor.
            let dev = u32_at(at + 8)?;
            return Some(((dev >> 20, dev & 0xF_FFFF), u64::from(vfs_ino)));
        }
        at += (attr_len + 3) & !3;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bind in the directory that was opened is recognised; one that a swapped directory
    /// sent elsewhere is not.
    #[test]
    fn a_bind_is_checked_against_the_directory_opened_before_it() {
        let base = std::env::temp_dir().join(format!("sockbox-bind-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("allowed")).unwrap();
        std::fs::create_dir_all(base.join("secret")).unwrap();
        let base = base.canonicalize().unwrap();
        let path = base.join("allowed/app.sock");
        let unix = || socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None);

        let dir = BindDir::open(&path).unwrap().unwrap();
        let sock = unix().unwrap();
        sock.bind(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
        assert!(dir.holds(&sock), "bound where it was checked");
        // Without sock_diag (some sandboxes) only the file's presence is checked.
        let diag = bound_file(&sock).is_some();
        println!("sock_diag answers: {diag}");

        // The directory swapped for a symlink to another between the open and the bind.
        let path = base.join("allowed/second.sock");
        let dir = BindDir::open(&path).unwrap().unwrap();
        std::fs::rename(base.join("allowed"), base.join("moved")).unwrap();
        std::os::unix::fs::symlink(base.join("secret"), base.join("allowed")).unwrap();
        let sock = unix().unwrap();
        sock.bind(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
        assert!(base.join("secret/second.sock").exists());
        assert!(!dir.holds(&sock), "bound elsewhere");
        // A socket file of that name in the opened directory is not enough: it must be this
        // socket's.
        let other = unix().unwrap();
        other
            .bind(&socket2::SockAddr::unix(base.join("moved/second.sock")).unwrap())
            .unwrap();
        assert_eq!(dir.holds(&sock), !diag, "another socket's file");
        // Opened now, the path passes through a symlink: refused.
        assert!(BindDir::open(&path).is_err());
        let _ = std::fs::remove_dir_all(&base);
    }
}
