//! `wasi:sockets/udp` and `udp-create-socket`: WASI 0.2's UDP sockets and datagram streams over
//! a core socket.

use std::net::SocketAddr;
use std::sync::Arc;

use rustix::event::PollFlags;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::DynPollable;

use super::bindings::wasi::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Network,
};
use super::bindings::wasi::sockets::udp::{self, IncomingDatagram, OutgoingDatagram};
use super::bindings::wasi::sockets::udp_create_socket;
use super::{
    Family, WasiError, WasiResult, bound_address, buffer_size, from_std, hop_limit, set_hop_limit,
    to_std,
};
use crate::core::addr;
use crate::core::ctx::SocketCtxView;
use crate::core::error::SocketError;
use crate::core::ops::socket::{OsSocket, Socket};
use crate::core::policy::Use;
use crate::core::types::{Errno, Interest, MsgFlags, SocketKind};
use crate::core::wait::{Waiter, run_sync};

/// How many datagrams one `receive` returns at most, and one `check-send` permits.
const BATCH: usize = 64;

/// The largest datagram payload.
const MAX_DATAGRAM: usize = 65_536;

/// A `wasi:sockets` UDP socket.
pub struct UdpSocket {
    sock: Socket,
    family: Family,
    /// `start-bind` succeeded and `finish-bind` has not been called.
    binding: bool,
    /// The peer of the last `stream` call, if it named one.
    remote: Option<SocketAddr>,
}

impl std::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpSocket")
            .field("family", &self.family)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl UdpSocket {
    /// A WASI UDP socket on `sock` (a handle of its own: see `wasi-bridge`), with the peer its
    /// OS socket is connected to, if any.
    pub(crate) fn adopt(sock: Socket, family: Family) -> Result<UdpSocket, SocketError> {
        let remote = sock.os()?.os.peer_addr().ok().and_then(|a| a.as_socket());
        Ok(UdpSocket {
            sock,
            family,
            binding: false,
            remote,
        })
    }

    /// The core socket (`wasi-bridge`).
    pub(crate) fn core(&self) -> &Socket {
        &self.sock
    }

    fn os(&self) -> WasiResult<&Arc<OsSocket>> {
        self.sock.os().map_err(|_| ErrorCode::InvalidState.into())
    }
}

/// The receiving half of a UDP socket's `stream`.
pub struct IncomingDatagramStream {
    os: Arc<OsSocket>,
    remote: Option<SocketAddr>,
}

impl std::fmt::Debug for IncomingDatagramStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingDatagramStream")
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

/// The sending half of a UDP socket's `stream`.
pub struct OutgoingDatagramStream {
    os: Arc<OsSocket>,
    family: Family,
    remote: Option<SocketAddr>,
    /// How many datagrams the last `check-send` permitted (`None`: none asked since the last
    /// `send`).
    permits: Option<usize>,
}

impl std::fmt::Debug for OutgoingDatagramStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingDatagramStream")
            .field("remote", &self.remote)
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

impl udp_create_socket::Host for SocketCtxView<'_> {
    fn create_udp_socket(
        &mut self,
        address_family: IpAddressFamily,
    ) -> WasiResult<Resource<UdpSocket>> {
        let family = Family::of(address_family);
        let sock = super::new_socket(self.ctx, family, SocketKind::Dgram)?;
        Ok(self.table.push(UdpSocket {
            sock,
            family,
            binding: false,
            remote: None,
        })?)
    }
}

impl udp::Host for SocketCtxView<'_> {}

impl udp::HostUdpSocket for SocketCtxView<'_> {
    fn start_bind(
        &mut self,
        this: Resource<UdpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> WasiResult<()> {
        self.table.get(&network)?;
        let addr = to_std(local_address);
        let sock = self.table.get(&this)?;
        if sock.binding {
            return Err(ErrorCode::ConcurrencyConflict.into());
        }
        let os = sock.os()?;
        if bound_address(&os.os).is_ok() {
            return Err(ErrorCode::InvalidState.into());
        }
        if !sock.family.holds(addr.ip()) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let to = self.ctx.gate.check(Use::Bind(&addr::from_std(addr)))?;
        os.bind(to).map_err(SocketError::from)?;
        self.table.get_mut(&this)?.binding = true;
        Ok(())
    }

    fn finish_bind(&mut self, this: Resource<UdpSocket>) -> WasiResult<()> {
        let sock = self.table.get_mut(&this)?;
        if !sock.binding {
            return Err(ErrorCode::NotInProgress.into());
        }
        sock.binding = false;
        Ok(())
    }

    fn stream(
        &mut self,
        this: Resource<UdpSocket>,
        remote_address: Option<IpSocketAddress>,
    ) -> WasiResult<(
        Resource<IncomingDatagramStream>,
        Resource<OutgoingDatagramStream>,
    )> {
        let remote = remote_address.map(to_std);
        let sock = self.table.get(&this)?;
        let family = sock.family;
        let os = Arc::clone(sock.os()?);
        if bound_address(&os.os).is_err() {
            return Err(ErrorCode::InvalidState.into());
        }
        let to = match remote {
            Some(r) => {
                if !family.reaches(r) {
                    return Err(ErrorCode::InvalidArgument.into());
                }
                Some(self.ctx.gate.check(Use::Connect(&addr::from_std(r)))?)
            }
            None => None,
        };
        if sock.remote.is_some() {
            rustix::net::connect_unspec(&*os.os)?;
            self.table.get_mut(&this)?.remote = None;
        }
        if let Some(to) = to {
            run_sync(os.connect(Waiter::Sync, self.ctx, to))?;
        }
        self.table.get_mut(&this)?.remote = remote;
        let incoming = self.table.push(IncomingDatagramStream {
            os: Arc::clone(&os),
            remote,
        })?;
        let outgoing = self.table.push(OutgoingDatagramStream {
            os,
            family,
            remote,
            permits: None,
        })?;
        Ok((incoming, outgoing))
    }

    fn local_address(&mut self, this: Resource<UdpSocket>) -> WasiResult<IpSocketAddress> {
        let sock = self.table.get(&this)?;
        Ok(from_std(bound_address(&sock.os()?.os)?))
    }

    fn remote_address(&mut self, this: Resource<UdpSocket>) -> WasiResult<IpSocketAddress> {
        let sock = self.table.get(&this)?;
        Ok(from_std(sock.remote.ok_or(ErrorCode::InvalidState)?))
    }

    fn address_family(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily> {
        Ok(self.table.get(&this)?.family.wit())
    }

    fn unicast_hop_limit(&mut self, this: Resource<UdpSocket>) -> WasiResult<u8> {
        let sock = self.table.get(&this)?;
        hop_limit(&sock.os()?.os, sock.family)
    }

    fn set_unicast_hop_limit(&mut self, this: Resource<UdpSocket>, value: u8) -> WasiResult<()> {
        let sock = self.table.get(&this)?;
        set_hop_limit(&sock.os()?.os, sock.family, value)
    }

    fn receive_buffer_size(&mut self, this: Resource<UdpSocket>) -> WasiResult<u64> {
        Ok(self.table.get(&this)?.os()?.os.recv_buffer_size()? as u64)
    }

    fn set_receive_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> WasiResult<()> {
        let os = &self.table.get(&this)?.os()?.os;
        Ok(os.set_recv_buffer_size(buffer_size(value)?)?)
    }

    fn send_buffer_size(&mut self, this: Resource<UdpSocket>) -> WasiResult<u64> {
        Ok(self.table.get(&this)?.os()?.os.send_buffer_size()? as u64)
    }

    fn set_send_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> WasiResult<()> {
        let os = &self.table.get(&this)?.os()?.os;
        Ok(os.set_send_buffer_size(buffer_size(value)?)?)
    }

    fn subscribe(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        self.table.get(&this)?;
        // No call of a UDP socket itself waits: ready at once.
        crate::core::ops::poll::subscribe(
            self.table,
            None,
            Interest::empty(),
            self.ctx.interrupt.clone(),
        )
    }

    fn drop(&mut self, rep: Resource<UdpSocket>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl udp::HostIncomingDatagramStream for SocketCtxView<'_> {
    fn receive(
        &mut self,
        this: Resource<IncomingDatagramStream>,
        max_results: u64,
    ) -> WasiResult<Vec<IncomingDatagram>> {
        let stream = self.table.get(&this)?;
        let max = usize::try_from(max_results)
            .unwrap_or(usize::MAX)
            .min(BATCH);
        let mut got = Vec::new();
        while got.len() < max {
            // The core's recvmsg, never waiting (the socket is non-blocking): each datagram
            // reserved at its own size, senders the policy does not let the guest reach dropped.
            let received = run_sync(stream.os.recvmsg(
                Waiter::Sync,
                self.ctx,
                MAX_DATAGRAM as u64,
                MsgFlags::empty(),
            ));
            let message = match received {
                Ok(m) => m,
                Err(e) if matches!(e.errno_code(), Some(Errno::Again | Errno::Canceled)) => break,
                Err(e) if got.is_empty() => return Err(e.into()),
                Err(_) => break,
            };
            let Some(from) = message.address.as_ref().and_then(|a| addr::to_std(a).ok()) else {
                continue;
            };
            // A stream for one peer hears only it (datagrams queued before its connect too).
            if stream.remote.is_some_and(|remote| remote != from) {
                continue;
            }
            got.push(IncomingDatagram {
                data: message.data,
                remote_address: from_std(from),
            });
        }
        Ok(got)
    }

    fn subscribe(
        &mut self,
        this: Resource<IncomingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let os = Arc::clone(&self.table.get(&this)?.os);
        crate::core::ops::poll::subscribe(
            self.table,
            Some(os),
            Interest::READABLE,
            self.ctx.interrupt.clone(),
        )
    }

    fn drop(&mut self, rep: Resource<IncomingDatagramStream>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl udp::HostOutgoingDatagramStream for SocketCtxView<'_> {
    fn check_send(&mut self, this: Resource<OutgoingDatagramStream>) -> WasiResult<u64> {
        let stream = self.table.get_mut(&this)?;
        let permits = if stream.os.ready_now(PollFlags::OUT) {
            BATCH
        } else {
            0
        };
        stream.permits = Some(permits);
        Ok(permits as u64)
    }

    fn send(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
        datagrams: Vec<OutgoingDatagram>,
    ) -> WasiResult<u64> {
        let stream = self.table.get_mut(&this)?;
        if datagrams.is_empty() {
            return Ok(0);
        }
        match stream.permits.take() {
            Some(permits) if datagrams.len() <= permits => {}
            _ => {
                return Err(WasiError::Trap(wasmtime::format_err!(
                    "send of more datagrams than check-send permitted"
                )));
            }
        }
        let stream = self.table.get(&this)?;
        let mut sent = 0u64;
        for dgram in &datagrams {
            match send_one(self.ctx, stream, dgram) {
                Ok(true) => sent += 1,
                Ok(false) => break,
                Err(e) if sent == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(sent)
    }

    fn subscribe(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        let os = Arc::clone(&self.table.get(&this)?.os);
        crate::core::ops::poll::subscribe(
            self.table,
            Some(os),
            Interest::WRITABLE,
            self.ctx.interrupt.clone(),
        )
    }

    fn drop(&mut self, rep: Resource<OutgoingDatagramStream>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

/// Sends one datagram without waiting: `Ok(false)` when the socket has no room now.
fn send_one(
    ctx: &crate::SocketCtx,
    stream: &OutgoingDatagramStream,
    dgram: &OutgoingDatagram,
) -> WasiResult<bool> {
    let to = dgram.remote_address.map(to_std);
    let sent = match (to, stream.remote) {
        (Some(to), Some(remote)) if to != remote => {
            return Err(ErrorCode::InvalidArgument.into());
        }
        (None, None) => return Err(ErrorCode::InvalidArgument.into()),
        (_, Some(_)) => run_sync(stream.os.send(
            Waiter::Sync,
            &ctx.interrupt,
            &dgram.data,
            MsgFlags::empty(),
        )),
        (Some(to), None) => {
            if !stream.family.reaches(to) {
                return Err(ErrorCode::InvalidArgument.into());
            }
            let allowed = ctx.gate.check(Use::SendTo(&addr::from_std(to)))?;
            run_sync(
                stream
                    .os
                    .sendto(Waiter::Sync, ctx, &dgram.data, MsgFlags::empty(), allowed),
            )
        }
    };
    match sent {
        Ok(_) => Ok(true),
        Err(e) if e.errno_code() == Some(Errno::Again) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
