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
        let family = match (sock.family(), sock.kind(), sock.proto()) {
            (AddressFamily::Inet, SocketKind::Stream, 0 | libc::IPPROTO_TCP) => Family::V4,
            (AddressFamily::Inet6, SocketKind::Stream, 0 | libc::IPPROTO_TCP) => Family::V6,
            _ => {
                return Err(SocketError::os(
                    Errno::Invalid,
                    "Invalid argument (only a TCP socket over IP is a wasi:sockets tcp-socket)",
                ));
            }
        };
        let slot = self.ctx.slot()?;
        let mut dup = sock.dup(slot)?;
        // wasi:sockets never waits in a call: the guest waits in poll.
        dup.set_mode(Mode::NonBlocking);
        let (tcp, connected) = TcpSocket::adopt(dup, family, self.ctx.interrupt.clone())?;
        let streams = match connected {
            true => Some(self.tcp_streams(Arc::clone(tcp.core().os()?))?),
            false => None,
        };
        Ok((self.table.push(tcp)?, streams))
    }
}
