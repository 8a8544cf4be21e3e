//! The `wasi:sockets` front: wasi:sockets 0.2 (`network`, `instance-network`, `tcp`,
//! `tcp-create-socket`, `udp`, `udp-create-socket`, `ip-name-lookup`) served by the sockbox
//! core, so an unmodified `wasm32-wasip2` program (Rust std, CPython's own WASI `_socket`, any
//! wasi-libc language) runs under the sockbox policy, limits and interrupt.
//!
//! wasi:sockets never blocks in a socket call: every operation is a start/finish pair or a
//! non-blocking stream call, and a guest waits in `wasi:io/poll` on the pollables this front
//! hands out (the core's pollables: one registration per socket, woken by the interrupt too).
//! So one set of bindings serves both hosts; only wasmtime-wasi's `poll` differs between them.
//!
//! The state machines and error codes are the WASI spec's, checked against wasmtime-wasi's
//! implementation by the tests (`tests/tests/wasi_sockets.rs`). Where sockbox decides more:
//! - every address passes the sockbox gate: a denial is `access-denied`, at `start-bind`,
//!   `start-connect`, UDP `stream` and `send`, and `resolve-addresses`; accept rules and
//!   unconnected UDP senders filter silently, as on the sockbox interface;
//! - sockets count against [`Limits::max_sockets`](crate::Limits::max_sockets)
//!   (`new-socket-limit`), lookups against `max_pending_lookups`;
//! - an interrupted instance's calls that would wait fail: `finish-connect` and `accept` with
//!   `timeout` (wasi:sockets has no `canceled`), stream reads and writes with an error, instead of
//!   `would-block` and a guest that spins on it.

mod bridge;
mod lookup;
mod streams;
mod tcp;
mod udp;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use wasmtime::component::{Linker, Resource, ResourceTableError};

use crate::core::ctx::{SocketCtxView, SocketView};
use crate::core::error::SocketError;
use crate::core::types::{Errno, Error as GuestError};
use crate::wit::HasSockets;

pub use lookup::ResolveAddressStream;
pub use tcp::TcpSocket;
pub use udp::{IncomingDatagramStream, OutgoingDatagramStream, UdpSocket};

/// Host bindings of world `sockbox:socket/wasi-sockets` (wasi:sockets 0.2.12 and the
/// `wasi-bridge` to sockbox sockets); the WIT documents each item.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "sockbox:socket/wasi-sockets",
        imports: { default: trappable },
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::sync::io,
            "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
            "wasi:filesystem": wasmtime_wasi::p2::bindings::sync::filesystem,
            "sockbox:socket/types": crate::core::types,
            "sockbox:socket/socket": crate::bindings::sockbox::socket::socket,
            "wasi:sockets/network.network": super::Network,
            "wasi:sockets/tcp.tcp-socket": super::TcpSocket,
            "wasi:sockets/udp.udp-socket": super::UdpSocket,
            "wasi:sockets/udp.incoming-datagram-stream": super::IncomingDatagramStream,
            "wasi:sockets/udp.outgoing-datagram-stream": super::OutgoingDatagramStream,
            "wasi:sockets/ip-name-lookup.resolve-address-stream": super::ResolveAddressStream,
        },
        trappable_error_type: {
            "wasi:sockets/network.error-code" => super::WasiError,
            "sockbox:socket/types.error" => crate::core::error::SocketError,
        },
        require_store_data_send: true,
    });
}

use bindings::wasi::sockets::network::{
    self, ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress,
    Ipv6SocketAddress,
};

/// A `wasi:sockets` `network`: the guest's handle on the network the policy lets it reach.
/// Every instance has one (`instance-network`); it carries no state.
#[derive(Debug)]
pub struct Network;

/// A wasi:sockets call's failure: an `error-code` for the guest, or a host failure that traps.
#[derive(Debug)]
pub enum WasiError {
    /// What the guest sees.
    Code(ErrorCode),
    /// A host failure (a bad resource handle, a broken table): traps the guest.
    Trap(wasmtime::Error),
}

pub(crate) type WasiResult<T> = Result<T, WasiError>;

impl From<ErrorCode> for WasiError {
    fn from(code: ErrorCode) -> Self {
        WasiError::Code(code)
    }
}

impl From<ResourceTableError> for WasiError {
    fn from(e: ResourceTableError) -> Self {
        WasiError::Trap(e.into())
    }
}

impl From<wasmtime::Error> for WasiError {
    fn from(e: wasmtime::Error) -> Self {
        WasiError::Trap(e)
    }
}

impl From<std::io::Error> for WasiError {
    fn from(e: std::io::Error) -> Self {
        WasiError::Code(io_code(&e))
    }
}

impl From<rustix::io::Errno> for WasiError {
    fn from(e: rustix::io::Errno) -> Self {
        WasiError::Code(io_code(&e.into()))
    }
}

impl From<SocketError> for WasiError {
    fn from(e: SocketError) -> Self {
        match e.into_guest() {
            Ok(guest) => WasiError::Code(guest_code(&guest)),
            Err(trap) => WasiError::Trap(trap),
        }
    }
}

/// The wasi:sockets error code of an OS error.
pub(crate) fn io_code(e: &std::io::Error) -> ErrorCode {
    match e.raw_os_error() {
        Some(libc::EHOSTDOWN | libc::ENONET) => ErrorCode::RemoteUnreachable,
        Some(raw) => errno_code(crate::core::error::errno_from_raw(raw)),
        None => ErrorCode::Unknown,
    }
}

/// The wasi:sockets error code of a sockbox error.
fn guest_code(e: &GuestError) -> ErrorCode {
    match e {
        GuestError::Os(os) => errno_code(os.code),
        GuestError::Denied(_) => ErrorCode::AccessDenied,
        GuestError::Timeout => ErrorCode::Timeout,
        GuestError::Value(_) => ErrorCode::InvalidArgument,
        GuestError::Gai(_) | GuestError::H(_) => ErrorCode::PermanentResolverFailure,
        GuestError::Tls(_) => ErrorCode::Unknown,
    }
}

/// The wasi:sockets error code of an errno (the WASI spec's table; `canceled`, the
/// interrupt's, has no code of its own: `timeout`).
fn errno_code(code: Errno) -> ErrorCode {
    use Errno as E;
    match code {
        E::Access | E::Permission => ErrorCode::AccessDenied,
        E::AddrInUse => ErrorCode::AddressInUse,
        E::AddrNotAvailable => ErrorCode::AddressNotBindable,
        E::AddressFamilyNotSupported | E::Invalid | E::DestAddrRequired => {
            ErrorCode::InvalidArgument
        }
        E::Again => ErrorCode::WouldBlock,
        E::Already | E::InProgress => ErrorCode::ConcurrencyConflict,
        E::ConnAborted => ErrorCode::ConnectionAborted,
        E::ConnRefused => ErrorCode::ConnectionRefused,
        E::ConnReset | E::Pipe | E::NetReset => ErrorCode::ConnectionReset,
        E::HostUnreachable | E::NetUnreachable | E::NetDown => ErrorCode::RemoteUnreachable,
        E::IsConn | E::NotConn => ErrorCode::InvalidState,
        E::MsgSize => ErrorCode::DatagramTooLarge,
        E::NoBufferSpace | E::NoMemory => ErrorCode::OutOfMemory,
        E::NotSupported | E::ProtocolNotSupported | E::SocketTypeNotSupported => {
            ErrorCode::NotSupported
        }
        E::TimedOut | E::Canceled => ErrorCode::Timeout,
        E::TooManyOpen | E::TooManyOpenSystem => ErrorCode::NewSocketLimit,
        _ => ErrorCode::Unknown,
    }
}

/// IPv4 or IPv6, as a wasi:sockets socket is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

impl Family {
    fn of(family: IpAddressFamily) -> Family {
        match family {
            IpAddressFamily::Ipv4 => Family::V4,
            IpAddressFamily::Ipv6 => Family::V6,
        }
    }

    fn wit(self) -> IpAddressFamily {
        match self {
            Family::V4 => IpAddressFamily::Ipv4,
            Family::V6 => IpAddressFamily::Ipv6,
        }
    }

    fn core(self) -> crate::core::types::AddressFamily {
        match self {
            Family::V4 => crate::core::types::AddressFamily::Inet,
            Family::V6 => crate::core::types::AddressFamily::Inet6,
        }
    }

    /// Whether `addr` is a peer a socket of this family can reach: of the family, not the
    /// any-address, not port 0.
    fn reaches(self, addr: SocketAddr) -> bool {
        self.holds(addr.ip()) && !addr.ip().is_unspecified() && addr.port() != 0
    }

    /// Whether `addr` is of this family. An IPv4-mapped IPv6 address is not, on either: WASI
    /// IPv6 sockets are IPv6-only.
    fn holds(self, addr: IpAddr) -> bool {
        match (self, addr) {
            (Family::V4, IpAddr::V4(_)) => true,
            (Family::V6, IpAddr::V6(v6)) => v6.to_ipv4_mapped().is_none(),
            _ => false,
        }
    }
}

/// A core socket for a wasi:sockets one: non-blocking (a guest waits in `poll`), IPv6-only
/// when IPv6 (as WASI's are), counted against the socket limit.
fn new_socket(
    ctx: &crate::SocketCtx,
    family: Family,
    kind: crate::core::types::SocketKind,
) -> Result<crate::core::ops::socket::Socket, SocketError> {
    let sock = crate::core::ops::socket::Socket::create(
        family.core(),
        kind,
        0,
        Some(std::time::Duration::ZERO),
        ctx.slot()?,
    )?;
    if family == Family::V6 {
        sock.os()?.os.set_only_v6(true)?;
    }
    Ok(sock)
}

/// A buffer size for SO_RCVBUF/SO_SNDBUF: 0 is `invalid-argument`; larger values are clamped
/// (and the kernel rounds and doubles them).
pub(crate) fn buffer_size(value: u64) -> WasiResult<usize> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument.into());
    }
    Ok(usize::try_from(value)
        .unwrap_or(usize::MAX)
        .min(i32::MAX as usize))
}

/// IP_TTL or IPV6_UNICAST_HOPS.
pub(crate) fn hop_limit(os: &socket2::Socket, family: Family) -> WasiResult<u8> {
    let hops = match family {
        Family::V4 => os.ttl_v4()?,
        Family::V6 => os.unicast_hops_v6()?,
    };
    Ok(u8::try_from(hops).unwrap_or(u8::MAX))
}

/// Sets IP_TTL or IPV6_UNICAST_HOPS; 0 is `invalid-argument`.
pub(crate) fn set_hop_limit(os: &socket2::Socket, family: Family, value: u8) -> WasiResult<()> {
    if value == 0 {
        return Err(ErrorCode::InvalidArgument.into());
    }
    match family {
        Family::V4 => os.set_ttl_v4(value.into())?,
        Family::V6 => os.set_unicast_hops_v6(value.into())?,
    }
    Ok(())
}

/// A unicast address (not multicast, not IPv4 broadcast).
fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_multicast() && !v4.is_broadcast(),
        IpAddr::V6(v6) => !v6.is_multicast(),
    }
}

/// A wasi socket address as std's.
pub(crate) fn to_std(addr: IpSocketAddress) -> SocketAddr {
    match addr {
        IpSocketAddress::Ipv4(a) => {
            let (x, y, z, w) = a.address;
            SocketAddrV4::new(Ipv4Addr::new(x, y, z, w), a.port).into()
        }
        IpSocketAddress::Ipv6(a) => {
            let (b0, b1, b2, b3, b4, b5, b6, b7) = a.address;
            let ip = Ipv6Addr::new(b0, b1, b2, b3, b4, b5, b6, b7);
            SocketAddrV6::new(ip, a.port, a.flow_info, a.scope_id).into()
        }
    }
}

/// A std socket address as wasi's.
pub(crate) fn from_std(addr: SocketAddr) -> IpSocketAddress {
    match addr {
        SocketAddr::V4(a) => IpSocketAddress::Ipv4(Ipv4SocketAddress {
            port: a.port(),
            address: ip4(*a.ip()),
        }),
        SocketAddr::V6(a) => IpSocketAddress::Ipv6(Ipv6SocketAddress {
            port: a.port(),
            flow_info: a.flowinfo(),
            scope_id: a.scope_id(),
            address: ip6(*a.ip()),
        }),
    }
}

fn ip4(ip: Ipv4Addr) -> (u8, u8, u8, u8) {
    let [a, b, c, d] = ip.octets();
    (a, b, c, d)
}

fn ip6(ip: Ipv6Addr) -> (u16, u16, u16, u16, u16, u16, u16, u16) {
    let [a, b, c, d, e, f, g, h] = ip.segments();
    (a, b, c, d, e, f, g, h)
}

/// A std IP address as wasi's.
pub(crate) fn ip_from_std(ip: IpAddr) -> IpAddress {
    match ip {
        IpAddr::V4(v4) => IpAddress::Ipv4(ip4(v4)),
        IpAddr::V6(v6) => IpAddress::Ipv6(ip6(v6)),
    }
}

/// The local address of a socket, or `invalid-state` while it has none (the kernel reports
/// the any-address, port 0).
fn bound_address(os: &socket2::Socket) -> WasiResult<SocketAddr> {
    let local = os
        .local_addr()?
        .as_socket()
        .ok_or(ErrorCode::InvalidState)?;
    if local.port() == 0 {
        return Err(ErrorCode::InvalidState.into());
    }
    Ok(local)
}

impl network::Host for SocketCtxView<'_> {
    fn convert_error_code(&mut self, err: WasiError) -> wasmtime::Result<ErrorCode> {
        match err {
            WasiError::Code(code) => Ok(code),
            WasiError::Trap(e) => Err(e),
        }
    }

    fn network_error_code(
        &mut self,
        _err: Resource<wasmtime_wasi::p2::bindings::sync::io::error::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        // Stream errors of this front carry no error code.
        Ok(None)
    }
}

impl network::HostNetwork for SocketCtxView<'_> {
    fn drop(&mut self, rep: Resource<Network>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl bindings::wasi::sockets::instance_network::Host for SocketCtxView<'_> {
    fn instance_network(&mut self) -> wasmtime::Result<Resource<Network>> {
        Ok(self.table.push(Network)?)
    }
}

/// Serves `wasi:sockets` from sockbox in `linker`, in place of wasmtime-wasi's: link wasi
/// first (`wasmtime_wasi::p2::add_to_linker_sync` or `_async`), then this, for either host.
/// The rest of wasi (clocks, filesystem, cli, io) stays wasmtime-wasi's.
///
/// wasi:sockets guests then get the instance's [`SocketCtx`](crate::SocketCtx): its policy,
/// limits, resolver and interrupt. wasmtime-wasi's own network switches
/// (`WasiCtxBuilder::inherit_network`, `allow_tcp`, ...) no longer matter.
///
/// It also links `sockbox:socket/wasi-bridge`, which turns sockets of one interface into the
/// other's. This replaces definitions already in the linker: it turns shadowing on for its own
/// definitions and off again after.
pub fn add_wasi_sockets_to_linker<T: SocketView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    use bindings::wasi::sockets as w;
    linker.allow_shadowing(true);
    let added = (|| {
        let l = &mut *linker;
        let options = w::network::LinkOptions::default();
        w::network::add_to_linker::<T, HasSockets>(l, &options, T::socket_ctx)?;
        w::instance_network::add_to_linker::<T, HasSockets>(l, T::socket_ctx)?;
        w::tcp::add_to_linker::<T, HasSockets>(l, T::socket_ctx)?;
        w::tcp_create_socket::add_to_linker::<T, HasSockets>(l, T::socket_ctx)?;
        w::udp::add_to_linker::<T, HasSockets>(l, T::socket_ctx)?;
        w::udp_create_socket::add_to_linker::<T, HasSockets>(l, T::socket_ctx)?;
        w::ip_name_lookup::add_to_linker::<T, HasSockets>(l, T::socket_ctx)?;
        bindings::sockbox::socket::wasi_bridge::add_to_linker::<T, HasSockets>(l, T::socket_ctx)?;
        wasmtime::Result::<()>::Ok(())
    })();
    linker.allow_shadowing(false);
    added
}
