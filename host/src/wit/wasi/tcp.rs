//! `wasi:sockets/tcp` and `tcp-create-socket`: the TCP state machine of WASI 0.2 over a core
//! socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustix::event::PollFlags;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, Pollable};

use super::bindings::wasi::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Network,
};
use super::bindings::wasi::sockets::tcp::{self, ShutdownType};
use super::bindings::wasi::sockets::tcp_create_socket;
use super::streams::{TcpReader, TcpWriter};
use super::{
    Family, WasiResult, bound_address, buffer_size, from_std, hop_limit, is_unicast, set_hop_limit,
    to_std,
};
use crate::core::addr;
use crate::core::ctx::SocketCtxView;
use crate::core::error::SocketError;
use crate::core::ops::socket::{OsSocket, Socket, duration_ns};
use crate::core::policy::Use;
use crate::core::types::{Errno, ShutdownHow, SocketKind};
use crate::core::wait::{InterruptHandle, Waiter, run_sync};

/// Where a TCP socket is in WASI's state machine (`bind-in-progress` and the like are a
/// state plus [`Op`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Unbound,
    Bound,
    Listening,
    /// `start-connect` made the connect; `finish-connect` gives its result.
    Connecting,
    Connected,
    /// A connect failed: only `drop` is left.
    Closed,
}

/// The operation a `start-*` began and its `finish-*` has not ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Bind,
    Connect,
    Listen,
}

/// The backlog a listener gets unless the guest sets one (the host's limit lowers it).
const DEFAULT_BACKLOG: u32 = 128;

/// A `wasi:sockets` TCP socket: a core socket (non-blocking; the guest waits in `poll`) and
/// its WASI state.
pub struct TcpSocket {
    sock: Socket,
    family: Family,
    state: State,
    pending: Option<Op>,
    backlog: u32,
    /// A connect(2) that failed at once: `finish-connect` reports it.
    connect_error: Option<ErrorCode>,
    /// Wakes the socket's pollables when the instance is interrupted.
    interrupt: InterruptHandle,
}

impl std::fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpSocket")
            .field("family", &self.family)
            .field("state", &self.state)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl TcpSocket {
    /// A WASI TCP socket in `state` on the core socket `sock`.
    fn new(sock: Socket, family: Family, state: State, interrupt: InterruptHandle) -> Self {
        TcpSocket {
            sock,
            family,
            state,
            pending: None,
            backlog: DEFAULT_BACKLOG,
            connect_error: None,
            interrupt,
        }
    }

    /// A WASI TCP socket on `sock` (a handle of its own: see `wasi-bridge`), in the state its
    /// OS socket is in; whether it is connected.
    pub(crate) fn adopt(
        sock: Socket,
        family: Family,
        interrupt: InterruptHandle,
    ) -> Result<(TcpSocket, bool), SocketError> {
        let os = &sock.os()?.os;
        let state = if rustix::net::sockopt::socket_acceptconn(&**os)? {
            State::Listening
        } else if os.peer_addr().is_ok() {
            State::Connected
        } else if bound_address(os).is_ok() {
            State::Bound
        } else {
            State::Unbound
        };
        let connected = state == State::Connected;
        Ok((TcpSocket::new(sock, family, state, interrupt), connected))
    }

    /// The core socket (`wasi-bridge`).
    pub(crate) fn core(&self) -> &Socket {
        &self.sock
    }

    fn os(&self) -> WasiResult<&socket2::Socket> {
        match self.sock.os() {
            Ok(os) if self.state != State::Closed => Ok(&os.os),
            _ => Err(ErrorCode::InvalidState.into()),
        }
    }

    /// Refuses a change to a socket the guest may not change; the OS socket otherwise.
    fn os_to_change(&self) -> WasiResult<&socket2::Socket> {
        let os = self.os()?;
        self.sock.os()?.changeable()?;
        Ok(os)
    }

    /// `start-*` while another operation is under way.
    fn idle(&self) -> WasiResult<()> {
        match self.pending {
            Some(_) => Err(ErrorCode::ConcurrencyConflict.into()),
            None => Ok(()),
        }
    }

    /// Ends `op` for its `finish-*`, or `not-in-progress`.
    fn finish(&mut self, op: Op) -> WasiResult<()> {
        if self.pending != Some(op) {
            return Err(ErrorCode::NotInProgress.into());
        }
        self.pending = None;
        Ok(())
    }
}

impl SocketCtxView<'_> {
    /// A new WASI TCP socket of `family` over a core socket, counted against the limit.
    fn wasi_tcp(&mut self, family: Family) -> WasiResult<TcpSocket> {
        let sock = super::new_socket(self.ctx, family, SocketKind::Stream)?;
        let interrupt = self.ctx.interrupt.clone();
        Ok(TcpSocket::new(sock, family, State::Unbound, interrupt))
    }

    /// The streams of a connected socket, pushed to the table (and TCP_NODELAY set, if the
    /// embedder asked for it).
    pub(crate) fn tcp_streams(
        &mut self,
        os: Arc<OsSocket>,
    ) -> Result<(Resource<DynInputStream>, Resource<DynOutputStream>), SocketError> {
        if self.ctx.wasi_tcp_nodelay {
            os.os.set_tcp_nodelay(true)?;
        }
        let reader = TcpReader::new(
            os.clone(),
            self.ctx.interrupt.clone(),
            self.ctx.limits.max_read,
        );
        let writer = TcpWriter::new(os, self.ctx.interrupt.clone());
        let input = self.table.push::<DynInputStream>(Box::new(reader))?;
        let output = self.table.push::<DynOutputStream>(Box::new(writer))?;
        Ok((input, output))
    }

    /// What an operation that would wait answers: `would-block`, or `timeout` once the
    /// instance is interrupted (so a guest does not spin on it).
    fn would_block(&self) -> super::WasiError {
        if self.ctx.interrupt.is_interrupted() {
            ErrorCode::Timeout.into()
        } else {
            ErrorCode::WouldBlock.into()
        }
    }
}

impl tcp_create_socket::Host for SocketCtxView<'_> {
    fn create_tcp_socket(
        &mut self,
        address_family: IpAddressFamily,
    ) -> WasiResult<Resource<TcpSocket>> {
        let sock = self.wasi_tcp(Family::of(address_family))?;
        Ok(self.table.push(sock)?)
    }
}

impl tcp::Host for SocketCtxView<'_> {}

impl tcp::HostTcpSocket for SocketCtxView<'_> {
    fn start_bind(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> WasiResult<()> {
        self.table.get(&network)?;
        let addr = to_std(local_address);
        let sock = self.table.get(&this)?;
        sock.idle()?;
        let os = sock.os()?;
        if sock.state != State::Unbound {
            return Err(ErrorCode::InvalidState.into());
        }
        if !is_unicast(addr.ip()) || !sock.family.holds(addr.ip()) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        // A listener the host made for this address (`sockbox run --listen`): the program gets
        // it by binding as it always does (what wasi-sockets#47 asks for), needing no bind
        // rule; its `listen` then keeps the host's backlog.
        if addr.port() != 0
            && let Some(listener) = self.ctx.preopened_at(addr).map_err(SocketError::from)?
        {
            let sock = self.table.get_mut(&this)?;
            sock.sock = sock.sock.preopened_in_place_of(listener)?;
            sock.state = State::Bound;
            sock.pending = Some(Op::Bind);
            return Ok(());
        }
        let to = self.ctx.gate.check(Use::Bind(&addr::from_std(addr)))?;
        // As WASI asks: a bind to a port is not held up by a recently closed socket's
        // TIME_WAIT.
        os.set_reuse_address(true)?;
        sock.sock.os()?.bind(to).map_err(SocketError::from)?;
        let sock = self.table.get_mut(&this)?;
        sock.state = State::Bound;
        sock.pending = Some(Op::Bind);
        Ok(())
    }

    fn finish_bind(&mut self, this: Resource<TcpSocket>) -> WasiResult<()> {
        self.table.get_mut(&this)?.finish(Op::Bind)
    }

    fn start_connect(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        remote_address: IpSocketAddress,
    ) -> WasiResult<()> {
        self.table.get(&network)?;
        let addr = to_std(remote_address);
        let sock = self.table.get(&this)?;
        sock.idle()?;
        sock.os()?;
        if !matches!(sock.state, State::Unbound | State::Bound) {
            return Err(ErrorCode::InvalidState.into());
        }
        if !is_unicast(addr.ip()) || !sock.family.reaches(addr) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let to = self.ctx.gate.check(Use::Connect(&addr::from_std(addr)))?;
        let os = Arc::clone(sock.sock.os()?);
        // Non-blocking: the connect is made or under way (EINPROGRESS); anything else is
        // `finish-connect`'s to report, as with a connect that fails later.
        let error = match run_sync(os.connect(Waiter::Sync, self.ctx, to)) {
            Ok(()) => None,
            Err(e) => match e.errno_code() {
                Some(Errno::InProgress) => None,
                // Out of ephemeral ports for the implicit bind.
                Some(Errno::AddrNotAvailable) => Some(ErrorCode::AddressInUse),
                _ => match super::WasiError::from(e) {
                    super::WasiError::Code(code) => Some(code),
                    trap => return Err(trap),
                },
            },
        };
        let sock = self.table.get_mut(&this)?;
        sock.connect_error = error;
        sock.state = State::Connecting;
        sock.pending = Some(Op::Connect);
        Ok(())
    }

    fn finish_connect(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> WasiResult<(Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let sock = self.table.get_mut(&this)?;
        if sock.pending != Some(Op::Connect) {
            return Err(ErrorCode::NotInProgress.into());
        }
        let failed = match sock.connect_error.take() {
            Some(code) => Some(code),
            None => {
                let os = sock.sock.os()?;
                if !os.ready_now(PollFlags::OUT) {
                    return Err(self.would_block());
                }
                os.os.take_error()?.map(|e| match e.raw_os_error() {
                    Some(libc::EADDRNOTAVAIL) => ErrorCode::AddressInUse,
                    _ => super::io_code(&e),
                })
            }
        };
        let sock = self.table.get_mut(&this)?;
        sock.pending = None;
        if let Some(code) = failed {
            sock.state = State::Closed;
            return Err(code.into());
        }
        sock.state = State::Connected;
        let os = Arc::clone(sock.sock.os()?);
        Ok(self.tcp_streams(os)?)
    }

    fn start_listen(&mut self, this: Resource<TcpSocket>) -> WasiResult<()> {
        let sock = self.table.get(&this)?;
        sock.idle()?;
        sock.os()?;
        if sock.state != State::Bound {
            return Err(ErrorCode::InvalidState.into());
        }
        let backlog = i32::try_from(sock.backlog).unwrap_or(i32::MAX);
        sock.sock.os()?.listen(self.ctx, backlog)?;
        let sock = self.table.get_mut(&this)?;
        sock.state = State::Listening;
        sock.pending = Some(Op::Listen);
        Ok(())
    }

    fn finish_listen(&mut self, this: Resource<TcpSocket>) -> WasiResult<()> {
        self.table.get_mut(&this)?.finish(Op::Listen)
    }

    fn accept(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> WasiResult<(
        Resource<TcpSocket>,
        Resource<DynInputStream>,
        Resource<DynOutputStream>,
    )> {
        let listener = self.table.get(&this)?;
        if listener.state != State::Listening {
            return Err(ErrorCode::InvalidState.into());
        }
        let family = listener.family;
        let os = Arc::clone(listener.sock.os()?);
        let slot = self.ctx.slot()?;
        let (conn, _peer) = match run_sync(os.accept(Waiter::Sync, self.ctx)) {
            Ok(accepted) => accepted,
            Err(e) if matches!(e.errno_code(), Some(Errno::Again | Errno::Canceled)) => {
                return Err(self.would_block());
            }
            Err(e) => return Err(e.into()),
        };
        let sock = Socket::wrap(
            conn,
            family.core(),
            SocketKind::Stream,
            0,
            Some(Duration::ZERO),
            slot,
        );
        let os = Arc::clone(sock.os()?);
        let interrupt = self.ctx.interrupt.clone();
        let accepted =
            self.table
                .push(TcpSocket::new(sock, family, State::Connected, interrupt))?;
        let (input, output) = self.tcp_streams(os)?;
        Ok((accepted, input, output))
    }

    fn local_address(&mut self, this: Resource<TcpSocket>) -> WasiResult<IpSocketAddress> {
        let sock = self.table.get(&this)?;
        if matches!(sock.state, State::Unbound | State::Connecting) {
            return Err(ErrorCode::InvalidState.into());
        }
        Ok(from_std(bound_address(sock.os()?)?))
    }

    fn remote_address(&mut self, this: Resource<TcpSocket>) -> WasiResult<IpSocketAddress> {
        let sock = self.table.get(&this)?;
        if sock.state != State::Connected {
            return Err(ErrorCode::InvalidState.into());
        }
        let peer: Option<SocketAddr> = sock.os()?.peer_addr()?.as_socket();
        Ok(from_std(peer.ok_or(ErrorCode::InvalidState)?))
    }

    fn is_listening(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<bool> {
        Ok(self.table.get(&this)?.state == State::Listening)
    }

    fn address_family(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(self.table.get(&this)?.family.wit())
    }

    fn set_listen_backlog_size(&mut self, this: Resource<TcpSocket>, value: u64) -> WasiResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let sock = self.table.get_mut(&this)?;
        let value = u32::try_from(value)
            .unwrap_or(i32::MAX as u32)
            .min(i32::MAX as u32);
        match sock.state {
            State::Unbound | State::Bound => {
                sock.backlog = value;
                Ok(())
            }
            State::Listening => {
                let max = self.ctx.limits.max_backlog.min(i32::MAX as u32);
                let os = sock.os_to_change()?;
                os.listen(value.min(max) as i32)
                    .map_err(|_| ErrorCode::NotSupported)?;
                sock.backlog = value;
                Ok(())
            }
            _ => Err(ErrorCode::InvalidState.into()),
        }
    }

    fn keep_alive_enabled(&mut self, this: Resource<TcpSocket>) -> WasiResult<bool> {
        Ok(self.table.get(&this)?.os()?.keepalive()?)
    }

    fn set_keep_alive_enabled(&mut self, this: Resource<TcpSocket>, value: bool) -> WasiResult<()> {
        Ok(self
            .table
            .get(&this)?
            .os_to_change()?
            .set_keepalive(value)?)
    }

    fn keep_alive_idle_time(&mut self, this: Resource<TcpSocket>) -> WasiResult<u64> {
        let os = self.table.get(&this)?.os()?;
        Ok(duration_ns(rustix::net::sockopt::tcp_keepidle(os)?))
    }

    fn set_keep_alive_idle_time(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> WasiResult<()> {
        let os = self.table.get(&this)?.os_to_change()?;
        Ok(rustix::net::sockopt::set_tcp_keepidle(
            os,
            keepalive_secs(value)?,
        )?)
    }

    fn keep_alive_interval(&mut self, this: Resource<TcpSocket>) -> WasiResult<u64> {
        let os = self.table.get(&this)?.os()?;
        Ok(duration_ns(rustix::net::sockopt::tcp_keepintvl(os)?))
    }

    fn set_keep_alive_interval(&mut self, this: Resource<TcpSocket>, value: u64) -> WasiResult<()> {
        let os = self.table.get(&this)?.os_to_change()?;
        Ok(rustix::net::sockopt::set_tcp_keepintvl(
            os,
            keepalive_secs(value)?,
        )?)
    }

    fn keep_alive_count(&mut self, this: Resource<TcpSocket>) -> WasiResult<u32> {
        let os = self.table.get(&this)?.os()?;
        Ok(rustix::net::sockopt::tcp_keepcnt(os)?)
    }

    fn set_keep_alive_count(&mut self, this: Resource<TcpSocket>, value: u32) -> WasiResult<()> {
        if value == 0 {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let os = self.table.get(&this)?.os_to_change()?;
        // Linux's most (MAX_TCP_KEEPCNT).
        Ok(rustix::net::sockopt::set_tcp_keepcnt(os, value.min(127))?)
    }

    fn hop_limit(&mut self, this: Resource<TcpSocket>) -> WasiResult<u8> {
        let sock = self.table.get(&this)?;
        hop_limit(sock.os()?, sock.family)
    }

    fn set_hop_limit(&mut self, this: Resource<TcpSocket>, value: u8) -> WasiResult<()> {
        let sock = self.table.get(&this)?;
        set_hop_limit(sock.os_to_change()?, sock.family, value)
    }

    fn receive_buffer_size(&mut self, this: Resource<TcpSocket>) -> WasiResult<u64> {
        Ok(self.table.get(&this)?.os()?.recv_buffer_size()? as u64)
    }

    fn set_receive_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> WasiResult<()> {
        let os = self.table.get(&this)?.os_to_change()?;
        Ok(os.set_recv_buffer_size(buffer_size(value)?)?)
    }

    fn send_buffer_size(&mut self, this: Resource<TcpSocket>) -> WasiResult<u64> {
        Ok(self.table.get(&this)?.os()?.send_buffer_size()? as u64)
    }

    fn set_send_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> WasiResult<()> {
        let os = self.table.get(&this)?.os_to_change()?;
        Ok(os.set_send_buffer_size(buffer_size(value)?)?)
    }

    fn subscribe(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        // Readiness is decided when the guest polls, by the state then (wasi-libc subscribes
        // once, when it makes the socket).
        wasmtime_wasi::p2::subscribe(self.table, this)
    }

    fn shutdown(
        &mut self,
        this: Resource<TcpSocket>,
        shutdown_type: ShutdownType,
    ) -> WasiResult<()> {
        let sock = self.table.get(&this)?;
        if sock.state != State::Connected {
            return Err(ErrorCode::InvalidState.into());
        }
        let how = match shutdown_type {
            ShutdownType::Receive => ShutdownHow::Read,
            ShutdownType::Send => ShutdownHow::Write,
            ShutdownType::Both => ShutdownHow::Both,
        };
        Ok(sock.sock.os()?.shutdown(how)?)
    }

    fn drop(&mut self, rep: Resource<TcpSocket>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Pollable for TcpSocket {
    /// Connecting: ready when the connect ends; listening: when a connection waits to be
    /// accepted; otherwise at once. The interrupt makes it ready too.
    async fn ready(&mut self) {
        let events = match self.state {
            State::Connecting if self.connect_error.is_none() => PollFlags::OUT,
            State::Listening => PollFlags::IN,
            _ => return,
        };
        let Some(os) = self.sock.os_shared() else {
            return;
        };
        if self.interrupt.is_interrupted() || os.ready_now(events) {
            return;
        }
        os.ready_or_interrupted(events, &self.interrupt).await;
    }
}

/// A keep-alive time in whole seconds, as Linux takes it: rounded up, at least 1, at most
/// Linux's largest (MAX_TCP_KEEPIDLE, 32767 s); 0 is `invalid-argument`.
fn keepalive_secs(ns: u64) -> WasiResult<Duration> {
    if ns == 0 {
        return Err(ErrorCode::InvalidArgument.into());
    }
    Ok(Duration::from_secs(
        ns.div_ceil(1_000_000_000).clamp(1, 32_767),
    ))
}
