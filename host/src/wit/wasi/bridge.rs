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

/// A sockbox handle on `sock`'s OS socket, with the instance's default timeout.
fn sockbox_handle(ctx: &SocketCtx, sock: &Socket) -> Result<Socket, SocketError> {
    let mut dup = sock.dup(ctx.slot()?)?;
    dup.set_mode(Mode::from_timeout(ctx.default_timeout));
    Ok(dup)
}

impl wasi_bridge::Host for SocketCtxView<'_> {
    fn from_wasi_tcp(&mut self, s: Resource<TcpSocket>) -> Result<Resource<Socket>, SocketError> {
        let dup = sockbox_handle(self.ctx, self.table.get(&s)?.core())?;
        self.push_socket(dup)
    }

    fn from_wasi_udp(&mut self, s: Resource<UdpSocket>) -> Result<Resource<Socket>, SocketError> {
        let dup = sockbox_handle(self.ctx, self.table.get(&s)?.core())?;
        self.push_socket(dup)
    }

    fn to_wasi_tcp(
        &mut self,
        s: Resource<Socket>,
    ) -> Result<(Resource<TcpSocket>, Option<Streams>), SocketError> {
        let sock = self.table.get(&s)?;
        let family = ip_family(sock, SocketKind::Stream, libc::IPPROTO_TCP, "a TCP")?;
        let dup = wasi_handle(self.ctx, sock)?;
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
        let dup = wasi_handle(self.ctx, sock)?;
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

/// A handle on `sock`'s OS socket for wasi:sockets, which never waits in a call (the guest
/// waits in poll).
fn wasi_handle(ctx: &SocketCtx, sock: &Socket) -> Result<Socket, SocketError> {
    let mut dup = sock.dup(ctx.slot()?)?;
    dup.set_mode(Mode::NonBlocking);
    Ok(dup)
}
