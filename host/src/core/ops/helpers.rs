//! `helpers`: socket.py's module functions that build sockets (create_connection,
//! create_server, socketpair), run in the host on the same core as the socket methods.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Type};
use wasmtime::component::Resource;

use crate::core::ctx::SocketCtxView;
use crate::core::error::SocketError;
use crate::core::ops::socket::Socket;
use crate::core::policy::Use;
use crate::core::types::{
    AddrInfoFlags, AddressFamily, ConnectionFailure, Errno, Error, SockAddress, SocketKind,
    TimeoutSetting,
};
use crate::core::wait::{self, Deadline, Interest, Mode, Waiter};
use rustix::event::PollFlags;

type Result<T, E = SocketError> = std::result::Result<T, E>;

/// socket.py's `listen()` default backlog: `min(SOMAXCONN, 128)`.
const DEFAULT_BACKLOG: i32 = 128;

impl SocketCtxView<'_> {
    /// `create_connection`: every address the lookup gives, in order, until one connects.
    /// The lookup waits as [`getaddrinfo_with`](Self::getaddrinfo_with) does.
    pub(crate) async fn create_connection_with(
        &mut self,
        w: Waiter,
        host: String,
        port: u16,
        timeout: TimeoutSetting,
        source_address: Option<SockAddress>,
        all_errors: bool,
    ) -> wasmtime::Result<std::result::Result<Resource<Socket>, ConnectionFailure>> {
        let answers = match self
            .getaddrinfo_with(
                w,
                Some(host),
                Some(port.to_string()),
                AddressFamily::Unspec,
                Some(SocketKind::Stream),
                0,
                AddrInfoFlags::empty(),
            )
            .await
        {
            Ok(a) => a,
            // A lookup failure is raised as it is, all_errors or not (socket.py).
            Err(e) => return Ok(Err(ConnectionFailure::Lookup(e.into_guest()?))),
        };
        let mut errors = Vec::new();
        for a in &answers {
            let attempt = async {
                let sock = self.connect_socket(
                    a.family,
                    a.kind,
                    a.proto,
                    timeout,
                    source_address.as_ref(),
                )?;
                let to = self.ctx.gate.check(Use::Connect(&a.address))?;
                sock.os()?.connect(w, self.ctx, to).await?;
                Ok::<_, SocketError>(sock)
            };
            match attempt.await {
                Ok(sock) => return self.connection_outcome(Some(sock), errors, all_errors),
                Err(e) => errors.push(e.into_guest()?),
            }
        }
        self.connection_outcome(None, errors, all_errors)
    }

    /// What create-connection answers after its attempts: the connected socket; else the
    /// attempts' errors, every one with `all_errors` and only the latest without (socket.py
    /// 3.12); else (no address to try) a lookup error.
    pub(crate) fn connection_outcome(
        &mut self,
        connected: Option<Socket>,
        mut errors: Vec<Error>,
        all_errors: bool,
    ) -> wasmtime::Result<std::result::Result<Resource<Socket>, ConnectionFailure>> {
        if let Some(sock) = connected {
            return match self.push_socket(sock) {
                Ok(res) => Ok(Ok(res)),
                Err(e) => Ok(Err(ConnectionFailure::Lookup(e.into_guest()?))),
            };
        }
        if errors.is_empty() {
            let empty = SocketError::os(Errno::Other, "getaddrinfo returns an empty list");
            return Ok(Err(ConnectionFailure::Lookup(empty.into_guest()?)));
        }
        if !all_errors {
            errors.drain(..errors.len() - 1);
        }
        Ok(Err(ConnectionFailure::Attempts(errors)))
    }

    /// A socket for one create-connection attempt: its timeout set and its source bound.
    pub(crate) fn connect_socket(
        &mut self,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
        timeout: TimeoutSetting,
        source: Option<&SockAddress>,
    ) -> Result<Socket> {
        let slot = self.ctx.slot()?;
        let mut sock = Socket::create(family, kind, proto, self.ctx.default_timeout, slot)?;
        match timeout {
            TimeoutSetting::Default => {}
            TimeoutSetting::Blocking => sock.set_mode(Mode::Blocking),
            TimeoutSetting::After(ns) => {
                sock.set_mode(Mode::from_timeout(Some(Duration::from_nanos(ns))))
            }
        }
        if let Some(source) = source {
            sock.os()?.bind(self.ctx.gate.check(Use::Bind(source))?)?;
        }
        Ok(sock)
    }

    fn socketpair_inet(
        &mut self,
        family: AddressFamily,
        slots: (crate::core::limits::Slot, crate::core::limits::Slot),
    ) -> Result<(Socket, Socket)> {
        let (domain, loopback): (Domain, SocketAddr) = match family {
            AddressFamily::Inet6 => (Domain::IPV6, (Ipv6Addr::LOCALHOST, 0).into()),
            _ => (Domain::IPV4, (Ipv4Addr::LOCALHOST, 0).into()),
        };
        // Host-internal sockets: the pair reaches nothing but itself, so no policy applies.
        let stream = Type::STREAM.nonblocking();
        let lsock = socket2::Socket::new(domain, stream, None)?;
        lsock.bind(&loopback.into())?;
        lsock.listen(1)?;
        let csock = socket2::Socket::new(domain, stream, None)?;
        match csock.connect(&lsock.local_addr()?) {
            Err(e) if e.raw_os_error() != Some(libc::EINPROGRESS) => return Err(e.into()),
            _ => {}
        }
        // Loopback to itself: poll(2) even on the async host, for at most a moment.
        let deadline = Deadline::At(Instant::now() + Duration::from_secs(10));
        let intr = &self.ctx.interrupt;
        let ssock = loop {
            match lsock.accept() {
                Ok((ssock, _)) => break ssock,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    wait::poll_wait(&lsock, Interest::Read, PollFlags::empty(), deadline, intr)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        };
        wait::poll_wait(&csock, Interest::Write, PollFlags::empty(), deadline, intr)?;
        if let Some(e) = csock.take_error()? {
            return Err(e.into());
        }
        ssock.set_nonblocking(true)?;
        // _fallback_socketpair: make sure the accepted peer is our client, not an intruder
        // that connected to the listener first.
        let same = |a: std::io::Result<socket2::SockAddr>,
                    b: std::io::Result<socket2::SockAddr>| {
            matches!((a, b), (Ok(a), Ok(b)) if a.as_socket() == b.as_socket())
        };
        if !same(ssock.local_addr(), csock.peer_addr())
            || !same(csock.local_addr(), ssock.peer_addr())
        {
            return Err(SocketError::os(
                Errno::ConnAborted,
                "Unexpected peer connection",
            ));
        }
        let timeout = self.ctx.default_timeout;
        Ok((
            Socket::wrap(ssock, family, SocketKind::Stream, 0, timeout, slots.0),
            Socket::wrap(csock, family, SocketKind::Stream, 0, timeout, slots.1),
        ))
    }
}

/// Whether an IPv6 socket can accept IPv4 too (IPV6_V6ONLY can be cleared).
pub(crate) fn has_dualstack_ipv6() -> bool {
    socket2::Socket::new(Domain::IPV6, Type::STREAM, None)
        .and_then(|s| s.set_only_v6(false))
        .is_ok()
}

impl SocketCtxView<'_> {
    pub(crate) fn create_server(
        &mut self,
        address: SockAddress,
        family: AddressFamily,
        backlog: Option<i32>,
        reuse_port: bool,
        dualstack_ipv6: bool,
    ) -> Result<Resource<Socket>> {
        if dualstack_ipv6 && !has_dualstack_ipv6() {
            return Err(SocketError::value(
                "dualstack_ipv6 not supported on this platform",
            ));
        }
        if dualstack_ipv6 && !matches!(family, AddressFamily::Inet6) {
            return Err(SocketError::value(
                "dualstack_ipv6 requires AF_INET6 family",
            ));
        }
        let slot = self.ctx.slot()?;
        let sock = Socket::create(
            family,
            SocketKind::Stream,
            0,
            self.ctx.default_timeout,
            slot,
        )?;
        let os = sock.os()?;
        // As socket.py: SO_REUSEADDR where it exists (errors ignored), SO_REUSEPORT on request,
        // IPV6_V6ONLY set unless dual-stack was asked for.
        let _ = os.os.set_reuse_address(true);
        if reuse_port {
            os.os.set_reuse_port(true)?;
        }
        if matches!(family, AddressFamily::Inet6) {
            os.os.set_only_v6(!dualstack_ipv6)?;
        }
        if let Err(e) = self
            .ctx
            .gate
            .check(Use::Bind(&address))
            .and_then(|to| os.bind(to).map_err(SocketError::from))
        {
            return Err(match e.as_guest() {
                Some(Error::Os(o)) => SocketError::os(
                    o.code,
                    format!(
                        "bind({}) failed: {}",
                        crate::core::addr::to_std(&address)
                            .map(|a| crate::core::addr::display(&a))
                            .unwrap_or_default(),
                        o.message
                    ),
                ),
                _ => e,
            });
        }
        os.listen(self.ctx, backlog.unwrap_or(DEFAULT_BACKLOG))?;
        self.push_socket(sock)
    }

    pub(crate) fn socketpair(
        &mut self,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
    ) -> Result<(Resource<Socket>, Resource<Socket>)> {
        match family {
            AddressFamily::Inet | AddressFamily::Inet6 => {}
            AddressFamily::Unix => {
                // Native: an unnamed connected pair, any kind the OS has.
                let slots = (self.ctx.slot()?, self.ctx.slot()?);
                let ty = crate::core::addr::socket_type(kind)?;
                let protocol = (proto != 0).then(|| socket2::Protocol::from(proto));
                let (a, b) = socket2::Socket::pair(Domain::UNIX, ty.nonblocking(), protocol)?;
                let timeout = self.ctx.default_timeout;
                let a = Socket::wrap(a, family, kind, proto, timeout, slots.0);
                let b = Socket::wrap(b, family, kind, proto, timeout, slots.1);
                return Ok((self.push_socket(a)?, self.push_socket(b)?));
            }
            _ => {
                return Err(SocketError::value(
                    "Only AF_INET and AF_INET6 socket address families are supported",
                ));
            }
        }
        if !matches!(kind, SocketKind::Stream) {
            return Err(SocketError::value(
                "Only SOCK_STREAM socket type is supported",
            ));
        }
        if proto != 0 {
            return Err(SocketError::value("Only protocol zero is supported"));
        }
        let slots = (self.ctx.slot()?, self.ctx.slot()?);
        let (a, b) = self.socketpair_inet(family, slots)?;
        Ok((self.push_socket(a)?, self.push_socket(b)?))
    }
}
