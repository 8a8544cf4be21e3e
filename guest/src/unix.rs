//! What only sockbox gives a guest: descriptor passing (`send_fds`/`recv_fds`), zero-copy
//! `sendfile` from a wasi file, and `share`/`fromshare`.

use std::io::Read;

use wasi::filesystem::types::Descriptor;

use crate::bindings::sockbox::socket::helpers;
use crate::bindings::sockbox::socket::socket::{self as wit, FdToSend};
use crate::{Errno, Error, MsgFlags, Result, SockAddress, Socket, SocketKind};

/// A descriptor received with [`recv_fds`]: a socket ([`into_socket`](Self::into_socket)) or
/// anything else, which can be passed on with [`send_fds`] or dropped (closing it). It is a
/// handle; the host fd number never reaches the guest.
pub struct ReceivedFd {
    raw: wit::ReceivedFd,
}

impl ReceivedFd {
    /// Whether it is a socket.
    pub fn is_socket(&self) -> bool {
        self.raw.is_socket()
    }

    /// `socket(fileno=fd)`: the socket it is.
    ///
    /// # Errors
    /// `not-sock` when it is not a socket (it is closed then).
    pub fn into_socket(self) -> Result<Socket> {
        Ok(Socket::from_raw(wit::Socket::from_received_fd(self.raw)?))
    }
}

impl std::fmt::Debug for ReceivedFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<received fd, socket={}>", self.is_socket())
    }
}

/// Ancillary data for [`Socket::sendmsg_ancillary`] (socket.py's `ancdata` items): sockbox
/// passes descriptors (SCM_RIGHTS) and nothing else.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // holds borrowed handles; nothing to show
pub enum Ancillary<'a> {
    /// `(SOL_SOCKET, SCM_RIGHTS, fds)`: descriptors to pass.
    Rights(&'a [Fd<'a>]),
}

/// Something [`send_fds`] can pass: a socket or file this guest owns, or a received descriptor.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)] // holds borrowed handles; nothing to show
pub enum Fd<'a> {
    /// A socket.
    Socket(&'a Socket),
    /// A wasi file or directory (see [`crate::fs::open`]).
    File(&'a Descriptor),
    /// A descriptor received earlier.
    Received(&'a ReceivedFd),
}

/// What [`recv_fds`] returns: socket.py's `(data, fds, msg_flags, address)`.
#[derive(Debug)]
pub struct FdsMessage {
    /// The bytes.
    pub data: Vec<u8>,
    /// The descriptors, in order.
    pub fds: Vec<ReceivedFd>,
    /// `MsgFlags::CTRUNC` when descriptors did not fit (they were closed, not leaked).
    pub flags: MsgFlags,
    /// The sender, when the OS reports one.
    pub address: Option<SockAddress>,
}

/// `socket.send_fds(sock, buffers, fds, flags, address)`: data and descriptors in one
/// SCM_RIGHTS message over a Unix-domain socket.
///
/// # Errors
/// [`Error::Denied`] without the host's `--allow-fd-passing`; OS errors.
#[doc(alias = "SCM_RIGHTS")]
pub fn send_fds(
    sock: &Socket,
    buffers: &[&[u8]],
    fds: &[Fd<'_>],
    flags: MsgFlags,
    address: Option<SockAddress>,
) -> Result<usize> {
    let owned: Vec<Vec<u8>> = buffers.iter().map(|b| b.to_vec()).collect();
    let fds: Vec<FdToSend<'_>> = fds
        .iter()
        .map(|f| match *f {
            Fd::Socket(s) => FdToSend::Socket(s.raw()),
            Fd::File(d) => FdToSend::File(d),
            Fd::Received(r) => FdToSend::Received(&r.raw),
        })
        .collect();
    Ok(sock.raw().send_fds(&owned, &fds, flags, address.as_ref())? as usize)
}

/// `socket.recv_fds(sock, bufsize, maxfds, flags)`: up to `maxfds` descriptors (the host may
/// allow fewer per call); like CPython it does not fail on MSG_CTRUNC but reports it.
///
/// # Errors
/// [`Error::Denied`] without the host's `--allow-fd-passing`; as [`Socket::recv`].
#[doc(alias = "SCM_RIGHTS")]
pub fn recv_fds(sock: &Socket, bufsize: usize, maxfds: u32, flags: MsgFlags) -> Result<FdsMessage> {
    let m = sock.raw().recv_fds(bufsize as u64, maxfds, flags)?;
    Ok(FdsMessage {
        data: m.data,
        fds: m.fds.into_iter().map(|raw| ReceivedFd { raw }).collect(),
        flags: m.flags,
        address: m.address,
    })
}

/// `socket.fromshare(token)`: the socket another instance of the same share group shared.
///
/// # Errors
/// `invalid` for an unknown, used or expired token; `not-supported` outside a share group.
pub fn fromshare(token: &[u8]) -> Result<Socket> {
    Ok(Socket::from_raw(helpers::fromshare(token)?))
}

impl Socket {
    /// `send_fds(self, ...)`, as a method.
    ///
    /// # Errors
    /// As [`send_fds`].
    pub fn send_fds(
        &self,
        buffers: &[&[u8]],
        fds: &[Fd<'_>],
        flags: MsgFlags,
        address: Option<SockAddress>,
    ) -> Result<usize> {
        send_fds(self, buffers, fds, flags, address)
    }

    /// `recv_fds(self, ...)`, as a method.
    ///
    /// # Errors
    /// As [`recv_fds`].
    pub fn recv_fds(&self, bufsize: usize, maxfds: u32, flags: MsgFlags) -> Result<FdsMessage> {
        recv_fds(self, bufsize, maxfds, flags)
    }

    /// `sendfile(file, offset, count)`: sends a wasi file with sendfile(2) in the host — no
    /// byte passes through wasm — and returns the total sent. When the host cannot (not a
    /// regular file), it falls back to reading the descriptor and sending, like
    /// `_sendfile_use_send`. An empty file sends 0. A timeout after some bytes went returns
    /// the count sent so far (resume at `offset + count`); socket.py raises there and moves
    /// the file's position instead. A non-blocking socket sends what it takes now and returns
    /// that count (`os.sendfile`'s behaviour, for servers driven by a [`Poller`](crate::Poller);
    /// socket.py refuses non-blocking sockets).
    ///
    /// # Errors
    /// [`Error::Value`] for `count` 0 or a non-stream socket; [`Error::Timeout`] when nothing
    /// could be sent in time; `again` when a non-blocking socket takes nothing; OS errors.
    pub fn sendfile(&self, file: &Descriptor, offset: u64, count: Option<u64>) -> Result<u64> {
        match self.raw().sendfile(file, offset, count) {
            Err(crate::bindings::sockbox::socket::types::Error::Os(o))
                if o.code == Errno::NotSupported =>
            {
                self.sendfile_by_reading(file, offset, count)
            }
            other => Ok(other?),
        }
    }

    /// The fallback: read the descriptor at `offset` and send.
    fn sendfile_by_reading(
        &self,
        file: &Descriptor,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64> {
        self.check_sendfile(count)?;
        let once = self.gettimeout() == Some(std::time::Duration::ZERO);
        let mut pos = offset;
        let mut total = 0u64;
        loop {
            let want = count.map_or(SENDFILE_BLOCK, |c| (c - total).min(SENDFILE_BLOCK));
            if want == 0 {
                break;
            }
            let (data, eof) = file.read(want, pos).map_err(crate::fs::error)?;
            if data.is_empty() {
                break;
            }
            if once {
                // What the socket takes now; the rest stays in the file for the next call.
                return Ok(self.send(&data)? as u64);
            }
            self.sendall(&data)?;
            pos += data.len() as u64;
            total += data.len() as u64;
            if eof {
                break;
            }
        }
        Ok(total)
    }

    /// `_sendfile_use_send` for any `Read` source: reads and sends until the source ends or
    /// `count` bytes went. Returns the total sent.
    ///
    /// # Errors
    /// As [`sendfile`](Self::sendfile), and the source's read errors; [`Error::Value`] for a
    /// non-blocking socket (what it did not take would be lost from the source), as
    /// socket.py.
    pub fn sendfile_from(&self, source: &mut impl Read, count: Option<u64>) -> Result<u64> {
        self.check_sendfile(count)?;
        if self.gettimeout() == Some(std::time::Duration::ZERO) {
            return Err(Error::value("non-blocking sockets are not supported"));
        }
        let mut buf = vec![0u8; SENDFILE_BLOCK as usize];
        let mut total = 0u64;
        loop {
            let want = count.map_or(SENDFILE_BLOCK, |c| (c - total).min(SENDFILE_BLOCK)) as usize;
            if want == 0 {
                break;
            }
            let n = source.read(&mut buf[..want]).map_err(|e| Error::Os {
                errno: Errno::Io,
                message: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            self.sendall(&buf[..n])?;
            total += n as u64;
        }
        Ok(total)
    }

    fn check_sendfile(&self, count: Option<u64>) -> Result<()> {
        if !matches!(self.kind(), SocketKind::Stream) {
            return Err(Error::value("only SOCK_STREAM type sockets are supported"));
        }
        if count == Some(0) {
            return Err(Error::value("count must be a positive integer (got 0)"));
        }
        Ok(())
    }

    /// `share()`: a single-use token another instance of the same share group turns into this
    /// socket with [`fromshare`]. This socket stays open.
    ///
    /// # Errors
    /// `not-supported` when the host put this instance in no share group.
    pub fn share(&self) -> Result<Vec<u8>> {
        Ok(self.raw().share()?)
    }
}

/// The read+send fallback's block size (CPython's `_sendfile_use_send` uses 8 KiB; larger
/// blocks cost fewer host calls).
const SENDFILE_BLOCK: u64 = 64 * 1024;
