//! `sockbox:socket/wasi-bridge`: a wasi:sockets socket as a sockbox socket and back, as new
//! handles (duplicate descriptors) on the same OS socket.

use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream};

use super::bindings::sockbox::socket::wasi_bridge;
use super::{Family, TcpSocket, UdpSocket};
use crate::core::ctx::{SocketCtx, SocketCtxView};
use crate::core::error::SocketError;
use crate::core::ops::socket::Socket;
use crate::core::types::{AddressFamily, Errno, SocketKind};
use crate::core::wait::Mode;

type Streams = (Resource<DynInputStream>, Resource<DynOutputStream>);

/// A new handle on `sock`'s OS socket (counted against the limit) that waits as `mode` says:
/// the instance's default timeout for a sockbox socket; never, for a wasi:sockets one (its
/// guest waits in poll).
fn duplicate(ctx: &SocketCtx, sock: &Socket, mode: Mode) -> Result<Socket, SocketError> {
    let mut dup = sock.dup(ctx.slot()?)?;
    dup.set_mode(mode);
    Ok(dup)
}

impl wasi_bridge::Host for SocketCtxView<'_> {
    fn from_wasi_tcp(&mut self, s: Resource<TcpSocket>) -> Result<Resource<Socket>, SocketError> {
        let mode = Mode::from_timeout(self.ctx.default_timeout);
        let dup = duplicate(self.ctx, self.table.get(&s)?.core(), mode)?;
        self.push_socket(dup)
    }

    fn from_wasi_udp(&mut self, s: Resource<UdpSocket>) -> Result<Resource<Socket>, SocketError> {
        let mode = Mode::from_timeout(self.ctx.default_timeout);
        let dup = duplicate(self.ctx, self.table.get(&s)?.core(), mode)?;
        self.push_socket(dup)
    }

    fn to_wasi_tcp(
        &mut self,
        s: Resource<Socket>,
    ) -> Result<(Resource<TcpSocket>, Option<Streams>), SocketError> {
        let sock = self.table.get(&s)?;
        let family = ip_family(sock, SocketKind::Stream, libc::IPPROTO_TCP, "a TCP")?;
        let dup = duplicate(self.ctx, sock, Mode::NonBlocking)?;
        let (tcp, connected) = TcpSocket::adopt(dup, family, self.ctx.interrupt.clone())?;
        let streams = match connected {
            true => Some(self.tcp_streams(Arc::clone(tcp.core().os()?))?),
            false => None,
        };
        Ok((self.table.push(tcp)?, streams))
    }

    fn to_wasi_udp(&mut self, s: Resource<Socket>) -> Result<Resource<UdpSocket>, SocketError> {
        let sock = self.table.get(&s)?;
        let family = ip_family(sock, SocketKind::Dgram, libc::IPPROTO_UDP, "a UDP")?;
        let dup = duplicate(self.ctx, sock, Mode::NonBlocking)?;
        Ok(self.table.push(UdpSocket::adopt(dup, family)?)?)
    }
}

/// The wasi:sockets family of `sock` if it is of `kind` over IP (protocol 0 or `proto`), or
/// EINVAL naming what it must be (`what`: "a TCP").
fn ip_family(
    sock: &Socket,
    kind: SocketKind,
    proto: i32,
    what: &str,
) -> Result<Family, SocketError> {
    let same_kind = matches!(
        (sock.kind(), kind),
        (SocketKind::Stream, SocketKind::Stream) | (SocketKind::Dgram, SocketKind::Dgram)
    );
    let right_kind = same_kind && (sock.proto() == 0 || sock.proto() == proto);
    match sock.family() {
        AddressFamily::Inet if right_kind => Ok(Family::V4),
        AddressFamily::Inet6 if right_kind => Ok(Family::V6),
        _ => Err(SocketError::os(
            Errno::Invalid,
            format!("Invalid argument (only {what} socket over IP is a wasi:sockets one)"),
        )),
    }
}
