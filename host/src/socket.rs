//! The `socket` resource: state, the operations on it, and the generated trait impls that
//! translate between WIT values and those operations.

use std::net::Shutdown;
use std::time::Duration;

use socket2::{Protocol, SockAddr};
use wasmtime::component::Resource;

use crate::addr::{self, domain, from_os, kind_of, socket_type, to_std};
use crate::bindings::sockbox::socket::socket::{Host, HostSocket, Sockopt, SockoptName};
use crate::bindings::sockbox::socket::types::{
    AddressFamily, Errno, MsgFlags, ShutdownHow, SockAddress, SocketKind,
};
use crate::ctx::{SocketCtx, SocketCtxView};
use crate::error::SocketError;
use crate::wait::{self, Deadline, Interest, Mode};

/// A guest's socket, as kept in the resource table.
pub struct Socket {
    /// The OS socket (non-blocking, close-on-exec); `None` once closed.
    os: Option<socket2::Socket>,
    family: AddressFamily,
    kind: SocketKind,
    proto: i32,
    mode: Mode,
}

type Result<T, E = SocketError> = std::result::Result<T, E>;

impl Socket {
    /// `socket(family, kind, proto)` with the instance's default timeout.
    fn create(
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
        default_timeout: Option<Duration>,
    ) -> Result<Socket> {
        let dom = domain(family)?;
        let ty = socket_type(kind)?;
        let protocol = (proto != 0).then(|| Protocol::from(proto));
        // socket2 adds SOCK_CLOEXEC on Linux; the guest's blocking mode is host state.
        let os = socket2::Socket::new(dom, ty.nonblocking(), protocol)?;
        Ok(Socket::wrap(os, family, kind, proto, default_timeout))
    }

    fn wrap(
        os: socket2::Socket,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
        timeout: Option<Duration>,
    ) -> Socket {
        Socket {
            os: Some(os),
            family,
            kind,
            proto,
            mode: Mode::from_timeout(timeout),
        }
    }

    /// A guest socket for an OS socket the embedder opened (a preopen). Its family, kind and
    /// protocol are read from the OS.
    pub(crate) fn adopt(os: socket2::Socket, timeout: Option<Duration>) -> Result<Socket> {
        let family = addr::family_of(os.local_addr()?.domain());
        let kind = kind_of(os.r#type()?);
        let proto = os.protocol()?.map_or(0, i32::from);
        Ok(Socket::wrap(os, family, kind, proto, timeout))
    }

    /// The OS socket, or EBADF once closed.
    fn os(&self) -> Result<&socket2::Socket> {
        self.os
            .as_ref()
            .ok_or_else(|| SocketError::errno(Errno::BadDescriptor))
    }

    fn deadline(&self, flags: MsgFlags) -> Deadline {
        if flags.contains(MsgFlags::DONTWAIT) {
            Deadline::Now
        } else {
            self.mode.deadline()
        }
    }

    fn bind(&self, ctx: &SocketCtx, address: &SockAddress) -> Result<()> {
        let sa = to_std(address)?;
        ctx.policy.check_bind(&sa).map_err(deny)?;
        Ok(self.os()?.bind(&sa.into())?)
    }

    fn listen(&self, ctx: &SocketCtx, backlog: i32) -> Result<()> {
        let os = self.os()?;
        // listen() on an unbound socket binds it to the any-address on an ephemeral port:
        // that is a bind, and the bind rules decide it.
        if let Some(local) = os.local_addr()?.as_socket()
            && local.port() == 0
        {
            ctx.policy.check_bind(&local).map_err(deny)?;
        }
        Ok(os.listen(backlog.max(0))?)
    }

    fn accept(&self, ctx: &SocketCtx) -> Result<(Socket, SockAddress)> {
        let os = self.os()?;
        let (conn, peer) = wait::call(
            os,
            Interest::Read,
            self.mode.deadline(),
            &ctx.interrupt,
            socket2::Socket::accept,
        )?;
        conn.set_nonblocking(true)?;
        // socket.py's accept(): the default timeout, or blocking when the listener has a
        // timeout and no default is set.
        let timeout = ctx.default_timeout;
        let sock = Socket::wrap(conn, self.family, self.kind, self.proto, timeout);
        Ok((sock, from_os(&peer)?))
    }

    fn connect(&self, ctx: &SocketCtx, address: &SockAddress) -> Result<()> {
        let sa = to_std(address)?;
        ctx.policy.check_connect(&sa).map_err(deny)?;
        let os = self.os()?;
        match os.connect(&sa.into()) {
            Ok(()) => Ok(()),
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR))
                    && self.mode != Mode::NonBlocking =>
            {
                // As internal_connect in CPython: wait for writability, then read SO_ERROR.
                wait::wait(os, Interest::Write, self.mode.deadline(), &ctx.interrupt)?;
                match os.take_error()? {
                    None => Ok(()),
                    Some(e) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn send(&self, ctx: &SocketCtx, data: &[u8], flags: MsgFlags) -> Result<usize> {
        let raw = send_flags(flags);
        wait::call(
            self.os()?,
            Interest::Write,
            self.deadline(flags),
            &ctx.interrupt,
            |s| s.send_with_flags(data, raw),
        )
    }

    fn sendall(&self, ctx: &SocketCtx, mut data: &[u8], flags: MsgFlags) -> Result<()> {
        let os = self.os()?;
        let raw = send_flags(flags);
        // Since Python 3.5 the timeout bounds the whole sendall, not each send.
        let deadline = self.deadline(flags);
        while !data.is_empty() {
            let n = wait::call(os, Interest::Write, deadline, &ctx.interrupt, |s| {
                s.send_with_flags(data, raw)
            })?;
            data = &data[n..];
        }
        Ok(())
    }

    fn sendto(
        &self,
        ctx: &SocketCtx,
        data: &[u8],
        flags: MsgFlags,
        address: &SockAddress,
    ) -> Result<usize> {
        let sa = to_std(address)?;
        ctx.policy.check_send_to(&sa).map_err(deny)?;
        let to = SockAddr::from(sa);
        let raw = send_flags(flags);
        wait::call(
            self.os()?,
            Interest::Write,
            self.deadline(flags),
            &ctx.interrupt,
            |s| s.send_to_with_flags(data, &to, raw),
        )
    }

    fn recv(&self, ctx: &SocketCtx, bufsize: u64, flags: MsgFlags) -> Result<Vec<u8>> {
        let want = read_size(ctx, bufsize);
        let mut buf = Vec::with_capacity(want);
        let os = self.os()?;
        let raw = recv_flags(flags);
        let deadline = self.deadline(flags);
        // A blocking CPython socket's fd is blocking, so the kernel honours MSG_WAITALL; ours
        // is not, so a blocking socket loops (with a timeout, CPython's fd is non-blocking
        // too and returns what there is). MSG_PEEK would re-read the same bytes: no loop.
        let waitall = flags.contains(MsgFlags::WAITALL)
            && !flags.contains(MsgFlags::PEEK)
            && matches!(deadline, Deadline::Never);
        loop {
            let room = want - buf.len();
            let got = wait::call(os, Interest::Read, deadline, &ctx.interrupt, |s| {
                s.recv_with_flags(&mut buf.spare_capacity_mut()[..room], raw)
            });
            let n = match got {
                Ok(n) => n,
                // Like the kernel: an error after some data returns the data.
                Err(_) if !buf.is_empty() => break,
                Err(e) => return Err(e),
            };
            // With MSG_TRUNC the OS reports a datagram's full length, which may exceed the
            // buffer: only what fits was written.
            let n = n.min(room);
            // SAFETY: recv(2) initialised the `n` bytes after the current length.
            unsafe { buf.set_len(buf.len() + n) };
            if !waitall || n == 0 || buf.len() == want {
                break;
            }
        }
        Ok(buf)
    }

    fn recvfrom(
        &self,
        ctx: &SocketCtx,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<(Vec<u8>, Option<SockAddress>)> {
        let want = read_size(ctx, bufsize);
        let mut buf = Vec::with_capacity(want);
        let raw = recv_flags(flags);
        let (n, from) = wait::call(
            self.os()?,
            Interest::Read,
            self.deadline(flags),
            &ctx.interrupt,
            |s| s.recv_from_with_flags(&mut buf.spare_capacity_mut()[..want], raw),
        )?;
        // With MSG_TRUNC the OS reports the datagram's full length: only `want` were written.
        let n = n.min(want);
        // SAFETY: recvfrom(2) initialised the first `n` bytes of the spare capacity.
        unsafe { buf.set_len(n) };
        // A connected stream reports no address (length 0): socket.py gives None.
        let from = if from.len() == 0 {
            None
        } else {
            Some(from_os(&from)?)
        };
        Ok((buf, from))
    }

    fn shutdown(&self, how: ShutdownHow) -> Result<()> {
        let how = match how {
            ShutdownHow::Read => Shutdown::Read,
            ShutdownHow::Write => Shutdown::Write,
            ShutdownHow::Both => Shutdown::Both,
        };
        Ok(self.os()?.shutdown(how)?)
    }

    fn getsockopt(&self, name: SockoptName) -> Result<Sockopt> {
        let os = self.os()?;
        Ok(match name {
            SockoptName::SoReuseaddr => Sockopt::SoReuseaddr(os.reuse_address()?),
            SockoptName::SoKeepalive => Sockopt::SoKeepalive(os.keepalive()?),
            SockoptName::SoRcvbuf => Sockopt::SoRcvbuf(clamp_u32(os.recv_buffer_size()?)),
            SockoptName::SoSndbuf => Sockopt::SoSndbuf(clamp_u32(os.send_buffer_size()?)),
            SockoptName::SoError => Sockopt::SoError(
                os.take_error()?
                    .and_then(|e| e.raw_os_error())
                    .map(crate::error::errno_from_raw),
            ),
            SockoptName::SoType => Sockopt::SoType(kind_of(os.r#type()?)),
            SockoptName::TcpNodelay => Sockopt::TcpNodelay(os.tcp_nodelay()?),
            SockoptName::Ipv6V6only => Sockopt::Ipv6V6only(os.only_v6()?),
        })
    }

    fn setsockopt(&self, value: Sockopt) -> Result<()> {
        let os = self.os()?;
        match value {
            Sockopt::SoReuseaddr(v) => os.set_reuse_address(v)?,
            Sockopt::SoKeepalive(v) => os.set_keepalive(v)?,
            Sockopt::SoRcvbuf(v) => os.set_recv_buffer_size(v as usize)?,
            Sockopt::SoSndbuf(v) => os.set_send_buffer_size(v as usize)?,
            Sockopt::SoError(_) | Sockopt::SoType(_) => {
                return Err(SocketError::os(
                    Errno::NoProtocolOption,
                    "Protocol not available (SO_ERROR and SO_TYPE are read only)",
                ));
            }
            Sockopt::TcpNodelay(v) => os.set_tcp_nodelay(v)?,
            Sockopt::Ipv6V6only(v) => os.set_only_v6(v)?,
        }
        Ok(())
    }
}

/// How many bytes one read may return: `min(bufsize, max_read)`.
fn read_size(ctx: &SocketCtx, bufsize: u64) -> usize {
    usize::try_from(bufsize)
        .unwrap_or(usize::MAX)
        .min(ctx.max_read)
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn deny(d: crate::policy::Denial) -> SocketError {
    tracing::info!(target: "sockbox::policy", "{d}");
    SocketError::denied(d.into())
}

/// Raw receive flags. MSG_DONTWAIT is the socket's business (every OS socket is non-blocking);
/// it only decides whether the host waits.
fn recv_flags(flags: MsgFlags) -> i32 {
    let mut raw = 0;
    for (flag, bit) in [
        (MsgFlags::OOB, libc::MSG_OOB),
        (MsgFlags::PEEK, libc::MSG_PEEK),
        (MsgFlags::WAITALL, libc::MSG_WAITALL),
        (MsgFlags::TRUNC, libc::MSG_TRUNC),
        (MsgFlags::DONTROUTE, libc::MSG_DONTROUTE),
        (MsgFlags::EOR, libc::MSG_EOR),
        (MsgFlags::CTRUNC, libc::MSG_CTRUNC),
    ] {
        if flags.contains(flag) {
            raw |= bit;
        }
    }
    raw
}

/// Raw send flags, always with MSG_NOSIGNAL: a peer's reset must give the guest EPIPE, not
/// kill the host with SIGPIPE.
fn send_flags(flags: MsgFlags) -> i32 {
    recv_flags(flags) | libc::MSG_NOSIGNAL
}

impl HostSocket for SocketCtxView<'_> {
    fn create(
        &mut self,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
    ) -> Result<Resource<Socket>> {
        self.ctx.check_socket_limit()?;
        let sock = Socket::create(family, kind, proto, self.ctx.default_timeout)?;
        self.push_socket(sock)
    }

    fn bind(&mut self, s: Resource<Socket>, address: SockAddress) -> Result<()> {
        self.table.get(&s)?.bind(self.ctx, &address)
    }

    fn listen(&mut self, s: Resource<Socket>, backlog: i32) -> Result<()> {
        self.table.get(&s)?.listen(self.ctx, backlog)
    }

    fn accept(&mut self, s: Resource<Socket>) -> Result<(Resource<Socket>, SockAddress)> {
        // Refuse before accepting, so the connection stays queued rather than dropped.
        self.ctx.check_socket_limit()?;
        let (sock, peer) = self.table.get(&s)?.accept(self.ctx)?;
        Ok((self.push_socket(sock)?, peer))
    }

    fn connect(&mut self, s: Resource<Socket>, address: SockAddress) -> Result<()> {
        self.table.get(&s)?.connect(self.ctx, &address)
    }

    fn connect_ex(&mut self, s: Resource<Socket>, address: SockAddress) -> Result<Option<Errno>> {
        match self.table.get(&s)?.connect(self.ctx, &address) {
            Ok(()) => Ok(None),
            Err(e) => match e.as_guest() {
                // CPython's connect_ex gives EWOULDBLOCK when its timeout expires.
                Some(crate::bindings::sockbox::socket::types::Error::Timeout) => {
                    Ok(Some(Errno::Again))
                }
                _ => match e.errno_code() {
                    Some(code) => Ok(Some(code)),
                    None => Err(e),
                },
            },
        }
    }

    fn send(&mut self, s: Resource<Socket>, data: Vec<u8>, flags: MsgFlags) -> Result<u64> {
        let n = self.table.get(&s)?.send(self.ctx, &data, flags)?;
        Ok(n as u64)
    }

    fn sendall(&mut self, s: Resource<Socket>, data: Vec<u8>, flags: MsgFlags) -> Result<()> {
        self.table.get(&s)?.sendall(self.ctx, &data, flags)
    }

    fn sendto(
        &mut self,
        s: Resource<Socket>,
        data: Vec<u8>,
        flags: MsgFlags,
        address: SockAddress,
    ) -> Result<u64> {
        let n = self
            .table
            .get(&s)?
            .sendto(self.ctx, &data, flags, &address)?;
        Ok(n as u64)
    }

    fn recv(&mut self, s: Resource<Socket>, bufsize: u64, flags: MsgFlags) -> Result<Vec<u8>> {
        self.table.get(&s)?.recv(self.ctx, bufsize, flags)
    }

    fn recvfrom(
        &mut self,
        s: Resource<Socket>,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<(Vec<u8>, Option<SockAddress>)> {
        self.table.get(&s)?.recvfrom(self.ctx, bufsize, flags)
    }

    fn shutdown(&mut self, s: Resource<Socket>, how: ShutdownHow) -> Result<()> {
        self.table.get(&s)?.shutdown(how)
    }

    fn getsockname(&mut self, s: Resource<Socket>) -> Result<SockAddress> {
        from_os(&self.table.get(&s)?.os()?.local_addr()?)
    }

    fn getpeername(&mut self, s: Resource<Socket>) -> Result<SockAddress> {
        from_os(&self.table.get(&s)?.os()?.peer_addr()?)
    }

    fn getsockopt(&mut self, s: Resource<Socket>, name: SockoptName) -> Result<Sockopt> {
        self.table.get(&s)?.getsockopt(name)
    }

    fn setsockopt(&mut self, s: Resource<Socket>, value: Sockopt) -> Result<()> {
        self.table.get(&s)?.setsockopt(value)
    }

    fn settimeout(&mut self, s: Resource<Socket>, timeout: Option<u64>) -> wasmtime::Result<()> {
        self.table.get_mut(&s)?.mode = Mode::from_timeout(timeout.map(Duration::from_nanos));
        Ok(())
    }

    fn gettimeout(&mut self, s: Resource<Socket>) -> wasmtime::Result<Option<u64>> {
        Ok(self.table.get(&s)?.mode.timeout().map(duration_ns))
    }

    fn setblocking(&mut self, s: Resource<Socket>, flag: bool) -> wasmtime::Result<()> {
        self.table.get_mut(&s)?.mode = if flag {
            Mode::Blocking
        } else {
            Mode::NonBlocking
        };
        Ok(())
    }

    fn getblocking(&mut self, s: Resource<Socket>) -> wasmtime::Result<bool> {
        Ok(self.table.get(&s)?.mode != Mode::NonBlocking)
    }

    fn family(&mut self, s: Resource<Socket>) -> wasmtime::Result<AddressFamily> {
        Ok(self.table.get(&s)?.family)
    }

    fn kind(&mut self, s: Resource<Socket>) -> wasmtime::Result<SocketKind> {
        Ok(self.table.get(&s)?.kind)
    }

    fn proto(&mut self, s: Resource<Socket>) -> wasmtime::Result<i32> {
        Ok(self.table.get(&s)?.proto)
    }

    fn close(&mut self, s: Resource<Socket>) -> Result<()> {
        // Dropping the OS socket closes it; closing twice is not an error (socket.py).
        self.table.get_mut(&s)?.os = None;
        Ok(())
    }

    fn drop(&mut self, s: Resource<Socket>) -> wasmtime::Result<()> {
        self.table.delete(s)?;
        self.ctx.open_sockets -= 1;
        Ok(())
    }
}

impl SocketCtxView<'_> {
    /// Puts a new socket in the table and counts it against the instance's limit.
    pub(crate) fn push_socket(&mut self, sock: Socket) -> Result<Resource<Socket>> {
        let res = self.table.push(sock)?;
        self.ctx.open_sockets += 1;
        Ok(res)
    }
}

impl Host for SocketCtxView<'_> {
    fn getdefaulttimeout(&mut self) -> wasmtime::Result<Option<u64>> {
        Ok(self.ctx.default_timeout.map(duration_ns))
    }

    fn setdefaulttimeout(&mut self, timeout: Option<u64>) -> wasmtime::Result<()> {
        self.ctx.default_timeout = timeout.map(Duration::from_nanos);
        Ok(())
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
