//! What only sockbox gives a guest: descriptor passing (SCM_RIGHTS), zero-copy sendfile from a
//! wasi file, and share/fromshare. Unix-domain addresses themselves are in `addr` and `policy`.

use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use wasmtime::component::Resource;
use wasmtime_wasi::filesystem::Descriptor;

use crate::core::addr::{Target, UnixTarget, from_std, unix_address};
use crate::core::ctx::SocketCtxView;
use crate::core::error::SocketError;
use crate::core::limits::Slot;
use crate::core::ops::socket::{Socket, read_size};
use crate::core::policy::Use;
use crate::core::types::{AddressFamily, Errno, MsgFlags, SockAddress, SocketKind};
use crate::core::wait::{Interest, Waiter};

type Result<T, E = SocketError> = std::result::Result<T, E>;

/// What `send-fds` passes: a socket or file the guest owns, or a descriptor it received (the
/// WIT's `fd-to-send`; each binding converts its own into this).
#[derive(Debug)]
pub(crate) enum FdToSend {
    Socket(Resource<Socket>),
    File(Resource<Descriptor>),
    Received(Resource<ReceivedFd>),
}

/// What `recv-fds` received (the WIT's `fds-message`).
#[derive(Debug)]
pub(crate) struct FdsMessage {
    pub(crate) data: Vec<u8>,
    pub(crate) fds: Vec<Resource<ReceivedFd>>,
    pub(crate) flags: MsgFlags,
    pub(crate) address: Option<SockAddress>,
}

/// A descriptor received with recv-fds. It owns the host fd (closed on drop); the guest only
/// ever holds a handle to it.
pub struct ReceivedFd {
    /// `None` once turned into a socket.
    pub(crate) fd: Option<OwnedFd>,
    is_socket: bool,
    /// Its place in the instance's limit (passed on to the socket it becomes).
    slot: Option<Slot>,
}

impl std::fmt::Debug for ReceivedFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedFd")
            .field("is_socket", &self.is_socket)
            .finish_non_exhaustive()
    }
}

impl Drop for ReceivedFd {
    fn drop(&mut self) {
        // Whoever sent it may have set SO_LINGER and closed its own copy: never close it on a
        // thread that serves guests.
        if let Some(fd) = self.fd.take() {
            crate::core::closer::close_later(fd);
        }
    }
}

impl ReceivedFd {
    fn new(fd: OwnedFd, slot: Slot) -> ReceivedFd {
        let is_socket = rustix::fs::fstat(&fd)
            .map(|st| {
                rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Socket
            })
            .unwrap_or(false);
        ReceivedFd {
            fd: Some(fd),
            is_socket,
            slot: Some(slot),
        }
    }

    /// The descriptor, or EBADF once turned into a socket.
    fn fd(&self) -> Result<BorrowedFd<'_>> {
        self.fd
            .as_ref()
            .map(|fd| fd.as_fd())
            .ok_or_else(|| SocketError::errno(Errno::BadDescriptor))
    }

    /// Whether it is a socket.
    pub fn is_socket(&self) -> bool {
        self.is_socket
    }
}

/// sendmsg flags in rustix's form: the same bits as every other send (MSG_NOSIGNAL included).
fn send_flags(flags: MsgFlags) -> SendFlags {
    SendFlags::from_bits_retain(crate::core::ops::socket::send_flags(flags) as u32)
}

/// recvmsg flags in rustix's form, with received descriptors close-on-exec.
fn recv_flags(flags: MsgFlags) -> RecvFlags {
    RecvFlags::from_bits_retain(crate::core::ops::socket::recv_flags(flags) as u32)
        | RecvFlags::CMSG_CLOEXEC
}

fn msg_flags(flags: ReturnFlags) -> MsgFlags {
    let mut out = MsgFlags::empty();
    for (on, flag) in [
        (ReturnFlags::TRUNC, MsgFlags::TRUNC),
        (ReturnFlags::CTRUNC, MsgFlags::CTRUNC),
        (ReturnFlags::EOR, MsgFlags::EOR),
        (ReturnFlags::OOB, MsgFlags::OOB),
    ] {
        if flags.contains(on) {
            out |= flag;
        }
    }
    out
}

/// The guest form of a sender rustix reported.
fn sender(addr: Option<rustix::net::SocketAddrAny>) -> Option<SockAddress> {
    let addr = addr?;
    if let Ok(sa) = std::net::SocketAddr::try_from(addr.clone()) {
        return Some(from_std(sa));
    }
    let unix = rustix::net::SocketAddrUnix::try_from(addr).ok()?;
    let target = if let Some(p) = unix.path_bytes() {
        UnixTarget::Path(std::path::PathBuf::from(std::ffi::OsStr::from_bytes(p)))
    } else if let Some(name) = unix.abstract_name() {
        UnixTarget::Abstract(name.to_vec())
    } else {
        UnixTarget::Unnamed
    };
    Some(unix_address(target))
}

impl SocketCtxView<'_> {
    /// The host fd behind something the guest wants to pass.
    fn fd_to_send(&self, fd: &FdToSend) -> Result<BorrowedFd<'_>> {
        Ok(match fd {
            FdToSend::Socket(s) => {
                let os = self.table.get(s)?.os()?;
                os.changeable()?;
                os.os.as_fd()
            }
            FdToSend::Received(r) => self.table.get(r)?.fd()?,
            FdToSend::File(d) => match self.table.get(d)? {
                Descriptor::File(f) => f.file.as_fd(),
                // A directory fd would let the peer walk out of the preopen with "..".
                Descriptor::Dir(_) => {
                    return Err(SocketError::os(
                        Errno::Permission,
                        "Operation not permitted (directories cannot be passed)",
                    ));
                }
            },
        })
    }

    /// `send_fds`: data and descriptors in one SCM_RIGHTS message. A socket sent is marked
    /// as held outside the instance (another process can now read it).
    pub(crate) async fn send_fds(
        &mut self,
        w: Waiter,
        s: &Resource<Socket>,
        buffers: &[Vec<u8>],
        fds: &[FdToSend],
        flags: MsgFlags,
        address: Option<&SockAddress>,
    ) -> Result<u64> {
        let _ = self.ctx.gate.check(Use::FdPassing)?;
        if !matches!(self.table.get(s)?.family(), AddressFamily::Unix) {
            return Err(SocketError::os(
                Errno::Invalid,
                "Invalid argument (descriptors pass only over Unix-domain sockets)",
            ));
        }
        // The kernel's SCM_MAX_FD: a longer list is EINVAL there too.
        if fds.len() > 253 {
            return Err(SocketError::os(
                Errno::Invalid,
                "Invalid argument (at most 253 descriptors per message)",
            ));
        }
        let to = match address {
            Some(a) => Some(self.ctx.gate.check(Use::SendTo(a))?),
            None => None,
        };
        let borrowed = fds
            .iter()
            .map(|f| self.fd_to_send(f))
            .collect::<Result<Vec<_>>>()?;
        let os = self.table.get(s)?.os()?;
        let iov: Vec<IoSlice<'_>> = buffers.iter().map(|b| IoSlice::new(b)).collect();
        let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(borrowed.len()))];
        let deadline = os.deadline(flags);
        let sflags = send_flags(flags);
        let n = w
            .call(
                &**os,
                Interest::Write,
                deadline,
                &self.ctx.interrupt,
                |sock| {
                    let mut control = SendAncillaryBuffer::new(&mut space);
                    if !borrowed.is_empty()
                        && !control.push(SendAncillaryMessage::ScmRights(&borrowed))
                    {
                        return Err(std::io::Error::from_raw_os_error(libc::ENOBUFS));
                    }
                    let sent = match to.as_ref().and_then(|a| a.target()) {
                        None => rustix::net::sendmsg(sock, &iov, &mut control, sflags),
                        Some(Target::Ip(sa)) => {
                            rustix::net::sendmsg_addr(sock, sa, &iov, &mut control, sflags)
                        }
                        Some(Target::Unix(u)) => {
                            let ua = u
                                .to_rustix()
                                .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
                            rustix::net::sendmsg_addr(sock, &ua, &iov, &mut control, sflags)
                        }
                    };
                    sent.map_err(std::io::Error::from)
                },
            )
            .await?;
        for fd in fds {
            if let FdToSend::Socket(sent) = fd {
                self.table.get(sent)?.os()?.mark_outside();
            }
        }
        Ok(n as u64)
    }

    /// `recv_fds`: data and up to `maxfds` descriptors. On an IP datagram socket, datagrams
    /// from senders the policy does not allow are dropped, as on every read path.
    pub(crate) async fn recv_fds(
        &mut self,
        w: Waiter,
        s: &Resource<Socket>,
        bufsize: u64,
        maxfds: u32,
        flags: MsgFlags,
    ) -> Result<FdsMessage> {
        // Without room for descriptors nothing is passed (any sent are closed, with CTRUNC).
        if maxfds > 0 {
            let _ = self.ctx.gate.check(Use::FdPassing)?;
        }
        let maxfds = (maxfds as usize).min(self.ctx.limits.max_fds_per_call);
        let os = self.table.get(s)?.os()?.clone();
        let want = read_size(self.ctx, bufsize);
        let mut data = Vec::new();
        let mut size = 0;
        let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(maxfds))];
        let deadline = os.deadline(flags);
        let rflags = recv_flags(flags);
        let mut received: Vec<OwnedFd> = Vec::new();
        let (n, ret, from) = loop {
            let got = w
                .call(
                    &*os,
                    Interest::Read,
                    deadline,
                    &self.ctx.interrupt,
                    |sock| {
                        data.clear();
                        size = os.make_room(&mut data, want, MsgFlags::empty())?;
                        data.resize(size, 0);
                        let mut control = RecvAncillaryBuffer::new(&mut space);
                        let mut iov = [IoSliceMut::new(&mut data)];
                        let msg = rustix::net::recvmsg(sock, &mut iov, &mut control, rflags)
                            .map_err(std::io::Error::from)?;
                        // Take ownership of every descriptor at once: dropped, they are closed.
                        for m in control.drain() {
                            if let RecvAncillaryMessage::ScmRights(fds) = m {
                                received.extend(fds);
                            }
                        }
                        Ok((msg.bytes, msg.flags, msg.address))
                    },
                )
                .await?;
            let from = got
                .2
                .clone()
                .and_then(|a| std::net::SocketAddr::try_from(a).ok());
            if os.hears_from(self.ctx, from) {
                break got;
            }
            received.clear();
            os.discard_peeked(flags);
        };
        data.truncate(n.min(size));
        // The control buffer is rounded up for alignment, so the kernel may deliver more than
        // maxfds: those, and any past the instance's limit, are closed (dropped) and reported.
        let mut out_flags = msg_flags(ret);
        if received.len() > maxfds {
            received.truncate(maxfds);
            out_flags |= MsgFlags::CTRUNC;
        }
        let mut fds = Vec::with_capacity(received.len());
        for fd in received {
            match self.ctx.slot() {
                Ok(slot) => fds.push(self.table.push(ReceivedFd::new(fd, slot))?),
                Err(_) => out_flags |= MsgFlags::CTRUNC,
            }
        }
        Ok(FdsMessage {
            data,
            fds,
            flags: out_flags,
            address: sender(from),
        })
    }

    pub(crate) fn socket_from_received_fd(
        &mut self,
        fd: Resource<ReceivedFd>,
    ) -> Result<Resource<Socket>> {
        let mut received = self.table.delete(fd)?;
        if !received.is_socket {
            return Err(SocketError::errno(Errno::NotSock));
        }
        // Checked through a borrow: a socket refused here stays in `received`, whose drop
        // closes it off this thread.
        let os = socket2::SockRef::from(
            received
                .fd
                .as_ref()
                .ok_or_else(|| SocketError::errno(Errno::BadDescriptor))?,
        );
        // Only what a guest could have made itself: IP or Unix, not raw; and no lingering
        // close, which would block the host (the sender may have set one).
        let domain = os.domain()?;
        let ty = os.r#type()?;
        let allowed_domain = [
            socket2::Domain::IPV4,
            socket2::Domain::IPV6,
            socket2::Domain::UNIX,
        ]
        .contains(&domain);
        let allowed_type = [
            socket2::Type::STREAM,
            socket2::Type::DGRAM,
            socket2::Type::SEQPACKET,
        ]
        .contains(&ty);
        if !allowed_domain || !allowed_type {
            return Err(SocketError::os(
                Errno::Permission,
                "Operation not permitted (a received socket of a family or type guests may not use)",
            ));
        }
        // What adopting it asks of the OS, asked first.
        os.local_addr()?;
        os.protocol()?;
        os.set_linger(None)?;
        // The guest's blocking mode is host state; the OS socket must not block the host.
        os.set_nonblocking(true)?;
        let (Some(fd), Some(slot)) = (received.fd.take(), received.slot.take()) else {
            return Err(SocketError::errno(Errno::BadDescriptor));
        };
        let os = socket2::Socket::from(fd);
        let sock = Socket::adopt(os, self.ctx.default_timeout, slot)?;
        self.push_socket(sock)
    }

    /// sendfile(2) from a wasi file, socket.py's `_sendfile_use_sendfile` rules. The timeout
    /// bounds each wait; an error after some bytes went (a timeout, the interrupt, a reset)
    /// returns the count sent, so the guest knows where to resume.
    pub(crate) async fn sendfile(
        &mut self,
        w: Waiter,
        s: &Resource<Socket>,
        file: &Resource<Descriptor>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64> {
        let sock = self.table.get(s)?;
        let os = sock.os()?.clone();
        if !matches!(sock.kind(), SocketKind::Stream) {
            return Err(SocketError::value(
                "only SOCK_STREAM type sockets are supported",
            ));
        }
        if count == Some(0) {
            return Err(SocketError::value(
                "count must be a positive integer (got 0)",
            ));
        }
        let file = match self.table.get(file)? {
            Descriptor::File(f) if f.open_mode.contains(wasmtime_wasi::OpenMode::READ) => {
                f.file.clone()
            }
            Descriptor::File(_) => return Err(SocketError::errno(Errno::BadDescriptor)),
            Descriptor::Dir(_) => {
                return Err(SocketError::os(
                    Errno::NotSupported,
                    "Operation not supported (a directory, not a regular file)",
                ));
            }
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(SocketError::os(
                Errno::NotSupported,
                "Operation not supported (not a regular file)",
            ));
        }
        let fsize = meta.len();
        if fsize == 0 {
            return Ok(0);
        }
        let end = match count {
            Some(c) => offset.saturating_add(c).min(fsize),
            None => fsize,
        };
        let mut pos = offset;
        let mut total = 0u64;
        while pos < end {
            // As socket.py: at most 1 GiB per call; the timeout bounds each wait. A non-blocking
            // socket takes what fits now (os.sendfile's behaviour): `again` if nothing.
            let block = ((end - pos).min(1 << 30)) as usize;
            let block = NonZeroUsize::new(block).expect("pos < end");
            os.reassert_nonblocking();
            let sent = w
                .call(
                    &*os,
                    Interest::Write,
                    os.mode().deadline(),
                    &self.ctx.interrupt,
                    |sock| sock.sendfile(&*file, pos as usize, Some(block)),
                )
                .await;
            let sent = match sent {
                Ok(n) => n,
                Err(_) if total > 0 => return Ok(total),
                // As socket.py: an OS error before any byte went means "use send instead".
                Err(e)
                    if !matches!(e.errno_code(), None | Some(Errno::Canceled | Errno::Again)) =>
                {
                    return Err(SocketError::os(
                        Errno::NotSupported,
                        format!("Operation not supported (sendfile failed: {e})"),
                    ));
                }
                Err(e) => return Err(e),
            };
            if sent == 0 {
                break; // the file ended early (it shrank)
            }
            pos += sent as u64;
            total += sent as u64;
        }
        Ok(total)
    }

    pub(crate) fn share(&mut self, s: &Resource<Socket>) -> Result<Vec<u8>> {
        let Some(group) = self.ctx.share_group.clone() else {
            return Err(SocketError::os(
                Errno::NotSupported,
                "Operation not supported (this instance is in no share group)",
            ));
        };
        // The parked duplicate counts against this instance until it is taken or expires.
        let slot = self.ctx.slot()?;
        let parked = self.ctx.parked_slot()?;
        let sock = self.table.get(s)?;
        sock.os()?.changeable()?;
        let dup = sock.os()?.os.try_clone()?;
        sock.os()?.mark_outside();
        let token = group.put(
            dup,
            sock.family(),
            sock.kind(),
            sock.proto(),
            [slot, parked],
        )?;
        Ok(token.to_vec())
    }

    pub(crate) fn fromshare(&mut self, token: &[u8]) -> Result<Resource<Socket>> {
        let Some(group) = self.ctx.share_group.clone() else {
            return Err(SocketError::os(
                Errno::NotSupported,
                "Operation not supported (this instance is in no share group)",
            ));
        };
        let slot = self.ctx.slot()?;
        let p = group.take(token)?;
        // The sharer may still hold the socket.
        let sock = Socket::wrap(
            p.os,
            p.family,
            p.kind,
            p.proto,
            self.ctx.default_timeout,
            slot,
        );
        sock.os()?.mark_outside();
        self.push_socket(sock)
    }
}

/// The socket calls that touch the resource's state, for the fronts.
impl SocketCtxView<'_> {
    pub(crate) fn received_is_socket(
        &mut self,
        fd: Resource<ReceivedFd>,
    ) -> wasmtime::Result<bool> {
        Ok(self.table.get(&fd)?.is_socket)
    }

    pub(crate) fn received_drop(&mut self, fd: Resource<ReceivedFd>) -> wasmtime::Result<()> {
        self.table.delete(fd)?;
        Ok(())
    }
}
