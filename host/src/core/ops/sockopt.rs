//! The typed socket options: `getsockopt` and `setsockopt` on the OS socket.
//!
//! socket2 does most; rustix the TCP keepalive knobs it lacks as separate options; one libc
//! call the option neither has (SO_RCVLOWAT).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::core::addr::{family_of, kind_of};
use crate::core::ctx::SocketCtx;
use crate::core::error::{SocketError, errno_from_raw};
use crate::core::policy::Use;
use crate::core::types::{
    AddressFamily, Errno, Ipv4Membership, Ipv6Membership, PeerCredentials, SocketKind, Sockopt,
    SockoptName,
};

type Result<T, E = SocketError> = std::result::Result<T, E>;

/// `getsockopt` of a typed option.
pub(crate) fn get(os: &socket2::Socket, name: SockoptName) -> Result<Sockopt> {
    use SockoptName as N;
    Ok(match name {
        N::SoReuseaddr => Sockopt::SoReuseaddr(os.reuse_address()?),
        N::SoReuseport => Sockopt::SoReuseport(os.reuse_port()?),
        N::SoKeepalive => Sockopt::SoKeepalive(os.keepalive()?),
        N::SoBroadcast => Sockopt::SoBroadcast(os.broadcast()?),
        N::SoLinger => Sockopt::SoLinger(os.linger()?.map(secs)),
        N::SoRcvbuf => Sockopt::SoRcvbuf(clamp_u32(os.recv_buffer_size()?)),
        N::SoSndbuf => Sockopt::SoSndbuf(clamp_u32(os.send_buffer_size()?)),
        N::SoRcvlowat => Sockopt::SoRcvlowat(get_int(os, libc::SOL_SOCKET, libc::SO_RCVLOWAT)?),
        N::SoError => Sockopt::SoError(
            os.take_error()?
                .and_then(|e| e.raw_os_error())
                .map(errno_from_raw),
        ),
        N::SoType => Sockopt::SoType(kind_of(os.r#type()?)),
        N::SoPeercred => Sockopt::SoPeercred(peer_credentials(os)?),
        N::SoAcceptconn => {
            Sockopt::SoAcceptconn(get_int(os, libc::SOL_SOCKET, libc::SO_ACCEPTCONN)? != 0)
        }
        N::SoDomain => Sockopt::SoDomain(family_of(os.domain()?)),
        N::SoProtocol => Sockopt::SoProtocol(os.protocol()?.map_or(0, i32::from)),
        N::TcpNodelay => Sockopt::TcpNodelay(os.tcp_nodelay()?),
        N::TcpCork => Sockopt::TcpCork(os.tcp_cork()?),
        N::TcpQuickack => Sockopt::TcpQuickack(os.tcp_quickack()?),
        N::TcpKeepidle => Sockopt::TcpKeepidle(secs(rustix::net::sockopt::tcp_keepidle(os)?)),
        N::TcpKeepintvl => Sockopt::TcpKeepintvl(secs(rustix::net::sockopt::tcp_keepintvl(os)?)),
        N::TcpKeepcnt => Sockopt::TcpKeepcnt(rustix::net::sockopt::tcp_keepcnt(os)?),
        N::TcpUserTimeoutMs => Sockopt::TcpUserTimeoutMs(
            os.tcp_user_timeout()?
                .map_or(0, |d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX)),
        ),
        N::IpTtl => Sockopt::IpTtl(os.ttl_v4()?),
        N::IpMulticastTtl => Sockopt::IpMulticastTtl(os.multicast_ttl_v4()?),
        N::IpMulticastLoop => Sockopt::IpMulticastLoop(os.multicast_loop_v4()?),
        N::Ipv6V6only => Sockopt::Ipv6V6only(os.only_v6()?),
        N::Ipv6UnicastHops => Sockopt::Ipv6UnicastHops(os.unicast_hops_v6()?),
        N::Ipv6MulticastHops => Sockopt::Ipv6MulticastHops(os.multicast_hops_v6()?),
        N::Ipv6MulticastLoop => Sockopt::Ipv6MulticastLoop(os.multicast_loop_v6()?),
    })
}

/// `setsockopt` of a typed option. Joining a multicast group needs a bind rule for the group.
pub(crate) fn set(ctx: &SocketCtx, os: &socket2::Socket, value: Sockopt) -> Result<()> {
    use rustix::net::sockopt as rx;
    match value {
        Sockopt::SoReuseaddr(v) => os.set_reuse_address(v)?,
        Sockopt::SoReuseport(v) => os.set_reuse_port(v)?,
        Sockopt::SoKeepalive(v) => os.set_keepalive(v)?,
        Sockopt::SoBroadcast(v) => os.set_broadcast(v)?,
        // A lingering close blocks the closing thread (O_NONBLOCK or not), which would be the
        // host's: only off and 0 (reset on close) are allowed.
        Sockopt::SoLinger(Some(s)) if s > 0 => {
            return Err(SocketError::os(
                Errno::Invalid,
                "Invalid argument (SO_LINGER with a timeout would block the host; use 0 or off)",
            ));
        }
        Sockopt::SoLinger(v) => os.set_linger(v.map(|s| Duration::from_secs(s.into())))?,
        Sockopt::SoRcvbuf(v) => os.set_recv_buffer_size(v as usize)?,
        Sockopt::SoSndbuf(v) => os.set_send_buffer_size(v as usize)?,
        Sockopt::SoRcvlowat(v) => set_int(os, libc::SOL_SOCKET, libc::SO_RCVLOWAT, v)?,
        Sockopt::SoError(_)
        | Sockopt::SoType(_)
        | Sockopt::SoPeercred(_)
        | Sockopt::SoAcceptconn(_)
        | Sockopt::SoDomain(_)
        | Sockopt::SoProtocol(_) => {
            return Err(SocketError::os(
                Errno::NoProtocolOption,
                "Protocol not available (SO_ERROR, SO_TYPE, SO_PEERCRED, SO_ACCEPTCONN, SO_DOMAIN and SO_PROTOCOL are read only)",
            ));
        }
        Sockopt::TcpNodelay(v) => os.set_tcp_nodelay(v)?,
        Sockopt::TcpCork(v) => os.set_tcp_cork(v)?,
        Sockopt::TcpQuickack(v) => os.set_tcp_quickack(v)?,
        Sockopt::TcpKeepidle(v) => rx::set_tcp_keepidle(os, Duration::from_secs(v.into()))?,
        Sockopt::TcpKeepintvl(v) => rx::set_tcp_keepintvl(os, Duration::from_secs(v.into()))?,
        Sockopt::TcpKeepcnt(v) => rx::set_tcp_keepcnt(os, v)?,
        Sockopt::TcpUserTimeoutMs(v) => {
            os.set_tcp_user_timeout((v != 0).then(|| Duration::from_millis(v.into())))?
        }
        Sockopt::IpTtl(v) => os.set_ttl_v4(v)?,
        Sockopt::IpMulticastTtl(v) => os.set_multicast_ttl_v4(v)?,
        Sockopt::IpMulticastLoop(v) => os.set_multicast_loop_v4(v)?,
        Sockopt::IpAddMembership(m) => {
            let (group, interface) = v4_membership(&m);
            let _ = ctx.gate.check(Use::MulticastJoin(group.into()))?;
            os.join_multicast_v4(&group, &interface)?
        }
        Sockopt::IpDropMembership(m) => {
            let (group, interface) = v4_membership(&m);
            os.leave_multicast_v4(&group, &interface)?
        }
        Sockopt::Ipv6V6only(v) => os.set_only_v6(v)?,
        Sockopt::Ipv6UnicastHops(v) => os.set_unicast_hops_v6(v)?,
        Sockopt::Ipv6MulticastHops(v) => os.set_multicast_hops_v6(v)?,
        Sockopt::Ipv6MulticastLoop(v) => os.set_multicast_loop_v6(v)?,
        Sockopt::Ipv6JoinGroup(m) => {
            let group = v6_group(&m);
            let _ = ctx.gate.check(Use::MulticastJoin(group.into()))?;
            os.join_multicast_v6(&group, m.interface)?
        }
        Sockopt::Ipv6LeaveGroup(m) => os.leave_multicast_v6(&v6_group(&m), m.interface)?,
    }
    Ok(())
}

fn v4_membership(m: &Ipv4Membership) -> (Ipv4Addr, Ipv4Addr) {
    let (a, b, c, d) = m.group;
    let (e, f, g, h) = m.interface;
    (Ipv4Addr::new(a, b, c, d), Ipv4Addr::new(e, f, g, h))
}

fn v6_group(m: &Ipv6Membership) -> Ipv6Addr {
    let (a, b, c, d, e, f, g, h) = m.group;
    Ipv6Addr::new(a, b, c, d, e, f, g, h)
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// SO_PEERCRED, read as the kernel writes it. A socket with no peer process (TCP, UDP, an
/// unconnected Unix socket) has pid 0 and uid/gid -1, which CPython reports as they are
/// (rustix's typed read cannot hold a pid of 0).
fn peer_credentials(os: &socket2::Socket) -> Result<PeerCredentials> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the fd is open for the borrow of `os`; cred and len are valid for writes and len
    // says how large cred is.
    let rc = unsafe {
        libc::getsockopt(
            os.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(PeerCredentials {
        pid: cred.pid,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// An `int` option neither socket2 nor rustix has.
fn get_int(os: &socket2::Socket, level: i32, name: i32) -> Result<u32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the fd is open for the borrow of `os`; value and len are valid for writes and
    // len says how large value is.
    let rc = unsafe {
        libc::getsockopt(
            os.as_raw_fd(),
            level,
            name,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(u32::try_from(value).unwrap_or(0))
}

/// Sets an `int` option neither socket2 nor rustix has.
fn set_int(os: &socket2::Socket, level: i32, name: i32, value: u32) -> Result<()> {
    let value = libc::c_int::try_from(value)
        .map_err(|_| SocketError::os(Errno::Invalid, "Invalid argument (value too large)"))?;
    // SAFETY: the fd is open for the borrow of `os`; value is a readable c_int of the size
    // passed.
    let rc = unsafe {
        libc::setsockopt(
            os.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

/// Options that reach past the sandbox: refused with EPERM, whatever their value.
const FORBIDDEN: &[(i32, i32, &str)] = &[
    (libc::SOL_SOCKET, libc::SO_BINDTODEVICE, "SO_BINDTODEVICE"),
    (libc::SOL_SOCKET, libc::SO_MARK, "SO_MARK"),
    (libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, "SO_ATTACH_FILTER"),
    (libc::SOL_SOCKET, libc::SO_ATTACH_BPF, "SO_ATTACH_BPF"),
    (libc::SOL_SOCKET, libc::SO_PRIORITY, "SO_PRIORITY"),
    (libc::SOL_SOCKET, libc::SO_DEBUG, "SO_DEBUG"),
    (libc::IPPROTO_IP, libc::IP_TRANSPARENT, "IP_TRANSPARENT"),
    (libc::IPPROTO_IP, libc::IP_HDRINCL, "IP_HDRINCL"),
    (libc::IPPROTO_IP, libc::IP_FREEBIND, "IP_FREEBIND"),
    (
        libc::IPPROTO_IPV6,
        libc::IPV6_TRANSPARENT,
        "IPV6_TRANSPARENT",
    ),
];

/// The typed option C's `(level, option)` numbers name: the safe list. Write-only options
/// (memberships) have no [`SockoptName`] and come back as `None`.
pub(crate) fn name_of(level: i32, option: i32) -> Result<Option<SockoptName>> {
    use SockoptName as N;
    if let Some((_, _, name)) = FORBIDDEN.iter().find(|f| (f.0, f.1) == (level, option)) {
        return Err(SocketError::os(
            Errno::Permission,
            format!("Operation not permitted ({name} is not available to guests)"),
        ));
    }
    let name = match (level, option) {
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => N::SoReuseaddr,
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => N::SoReuseport,
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => N::SoKeepalive,
        (libc::SOL_SOCKET, libc::SO_BROADCAST) => N::SoBroadcast,
        (libc::SOL_SOCKET, libc::SO_LINGER) => N::SoLinger,
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => N::SoRcvbuf,
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => N::SoSndbuf,
        (libc::SOL_SOCKET, libc::SO_RCVLOWAT) => N::SoRcvlowat,
        (libc::SOL_SOCKET, libc::SO_ERROR) => N::SoError,
        (libc::SOL_SOCKET, libc::SO_TYPE) => N::SoType,
        (libc::SOL_SOCKET, libc::SO_PEERCRED) => N::SoPeercred,
        (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => N::SoAcceptconn,
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => N::SoDomain,
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => N::SoProtocol,
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) => N::TcpNodelay,
        (libc::IPPROTO_TCP, libc::TCP_CORK) => N::TcpCork,
        (libc::IPPROTO_TCP, libc::TCP_QUICKACK) => N::TcpQuickack,
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) => N::TcpKeepidle,
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) => N::TcpKeepintvl,
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) => N::TcpKeepcnt,
        (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) => N::TcpUserTimeoutMs,
        (libc::IPPROTO_IP, libc::IP_TTL) => N::IpTtl,
        (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL) => N::IpMulticastTtl,
        (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP) => N::IpMulticastLoop,
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) => N::Ipv6V6only,
        (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) => N::Ipv6UnicastHops,
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS) => N::Ipv6MulticastHops,
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP) => N::Ipv6MulticastLoop,
        (libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP | libc::IP_DROP_MEMBERSHIP)
        | (libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP | libc::IPV6_DROP_MEMBERSHIP) => {
            return Ok(None);
        }
        _ => {
            return Err(SocketError::os(
                Errno::NoProtocolOption,
                format!(
                    "Protocol not available (option {option} at level {level} is not on sockbox's list)"
                ),
            ));
        }
    };
    Ok(Some(name))
}

/// Decodes C's bytes for `(level, option)` into a typed value: an `int` (4 bytes; IP's
/// multicast TTL and loop also take 1), `struct linger`, `ip_mreq`/`ip_mreqn`, `ipv6_mreq`.
pub(crate) fn decode(level: i32, option: i32, bytes: &[u8]) -> Result<Sockopt> {
    use SockoptName as N;
    let invalid = || {
        SocketError::os(
            Errno::Invalid,
            format!(
                "Invalid argument ({} bytes is not a value for option {option} at level {level})",
                bytes.len()
            ),
        )
    };
    let int_at = |at: usize| -> Option<i32> {
        Some(i32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let Some(name) = name_of(level, option)? else {
        return decode_membership(level, option, bytes).ok_or_else(invalid);
    };
    let int = match (name, bytes.len()) {
        (N::IpMulticastTtl | N::IpMulticastLoop, 1) => i32::from(bytes[0]),
        (N::SoLinger, 8) | (N::SoPeercred, 12) => 0,
        (_, 4) => int_at(0).ok_or_else(invalid)?,
        _ => return Err(invalid()),
    };
    let flag = int != 0;
    let n = || u32::try_from(int).map_err(|_| invalid());
    Ok(match name {
        N::SoReuseaddr => Sockopt::SoReuseaddr(flag),
        N::SoReuseport => Sockopt::SoReuseport(flag),
        N::SoKeepalive => Sockopt::SoKeepalive(flag),
        N::SoBroadcast => Sockopt::SoBroadcast(flag),
        N::SoLinger => {
            let (on, secs) = (
                int_at(0).ok_or_else(invalid)?,
                int_at(4).ok_or_else(invalid)?,
            );
            let secs = u32::try_from(secs).map_err(|_| invalid())?;
            Sockopt::SoLinger((on != 0).then_some(secs))
        }
        N::SoRcvbuf => Sockopt::SoRcvbuf(n()?),
        N::SoSndbuf => Sockopt::SoSndbuf(n()?),
        N::SoRcvlowat => Sockopt::SoRcvlowat(n()?),
        // Read-only options: `set` refuses them with their own message.
        N::SoError => Sockopt::SoError(None),
        N::SoType => Sockopt::SoType(SocketKind::Stream),
        N::SoAcceptconn => Sockopt::SoAcceptconn(flag),
        N::SoDomain => Sockopt::SoDomain(AddressFamily::Unspec),
        N::SoProtocol => Sockopt::SoProtocol(int),
        N::SoPeercred => {
            let word = |at| int_at(at).ok_or_else(invalid);
            Sockopt::SoPeercred(PeerCredentials {
                pid: word(0)?,
                uid: word(4)? as u32,
                gid: word(8)? as u32,
            })
        }
        N::TcpNodelay => Sockopt::TcpNodelay(flag),
        N::TcpCork => Sockopt::TcpCork(flag),
        N::TcpQuickack => Sockopt::TcpQuickack(flag),
        N::TcpKeepidle => Sockopt::TcpKeepidle(n()?),
        N::TcpKeepintvl => Sockopt::TcpKeepintvl(n()?),
        N::TcpKeepcnt => Sockopt::TcpKeepcnt(n()?),
        N::TcpUserTimeoutMs => Sockopt::TcpUserTimeoutMs(n()?),
        N::IpTtl => Sockopt::IpTtl(n()?),
        N::IpMulticastTtl => Sockopt::IpMulticastTtl(n()?),
        N::IpMulticastLoop => Sockopt::IpMulticastLoop(flag),
        N::Ipv6V6only => Sockopt::Ipv6V6only(flag),
        N::Ipv6UnicastHops => Sockopt::Ipv6UnicastHops(n()?),
        N::Ipv6MulticastHops => Sockopt::Ipv6MulticastHops(n()?),
        N::Ipv6MulticastLoop => Sockopt::Ipv6MulticastLoop(flag),
    })
}

fn decode_membership(level: i32, option: i32, b: &[u8]) -> Option<Sockopt> {
    let quad = |at: usize| -> Option<(u8, u8, u8, u8)> {
        let q: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some((q[0], q[1], q[2], q[3]))
    };
    if level == libc::IPPROTO_IP {
        // ip_mreq {group, interface}; ip_mreqn {group, address, ifindex} uses its address.
        if b.len() != 8 && b.len() != 12 {
            return None;
        }
        let m = Ipv4Membership {
            group: quad(0)?,
            interface: quad(4)?,
        };
        return Some(match option {
            libc::IP_ADD_MEMBERSHIP => Sockopt::IpAddMembership(m),
            _ => Sockopt::IpDropMembership(m),
        });
    }
    // ipv6_mreq {group (16 bytes), ifindex}.
    if b.len() != 20 {
        return None;
    }
    let g: [u8; 16] = b[..16].try_into().ok()?;
    let s = Ipv6Addr::from(g).segments();
    let m = Ipv6Membership {
        group: (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        interface: u32::from_ne_bytes(b[16..20].try_into().ok()?),
    };
    Some(match option {
        libc::IPV6_ADD_MEMBERSHIP => Sockopt::Ipv6JoinGroup(m),
        _ => Sockopt::Ipv6LeaveGroup(m),
    })
}

/// C's bytes of a typed value, as getsockopt(2) writes them.
pub(crate) fn encode(value: &Sockopt) -> Vec<u8> {
    let int = |v: i32| v.to_ne_bytes().to_vec();
    let n = |v: u32| int(i32::try_from(v).unwrap_or(i32::MAX));
    match *value {
        Sockopt::SoReuseaddr(v)
        | Sockopt::SoReuseport(v)
        | Sockopt::SoKeepalive(v)
        | Sockopt::SoBroadcast(v)
        | Sockopt::TcpNodelay(v)
        | Sockopt::TcpCork(v)
        | Sockopt::TcpQuickack(v)
        | Sockopt::IpMulticastLoop(v)
        | Sockopt::Ipv6V6only(v)
        | Sockopt::Ipv6MulticastLoop(v) => int(i32::from(v)),
        Sockopt::SoRcvbuf(v)
        | Sockopt::SoSndbuf(v)
        | Sockopt::SoRcvlowat(v)
        | Sockopt::TcpKeepidle(v)
        | Sockopt::TcpKeepintvl(v)
        | Sockopt::TcpKeepcnt(v)
        | Sockopt::TcpUserTimeoutMs(v)
        | Sockopt::IpTtl(v)
        | Sockopt::IpMulticastTtl(v)
        | Sockopt::Ipv6UnicastHops(v)
        | Sockopt::Ipv6MulticastHops(v) => n(v),
        Sockopt::SoLinger(v) => {
            let mut out = int(i32::from(v.is_some()));
            out.extend(n(v.unwrap_or(0)));
            out
        }
        Sockopt::SoError(e) => int(e.and_then(crate::core::error::errno_to_raw).unwrap_or(0)),
        Sockopt::SoType(k) => int(match k {
            SocketKind::Stream => libc::SOCK_STREAM,
            SocketKind::Dgram => libc::SOCK_DGRAM,
            SocketKind::Seqpacket => libc::SOCK_SEQPACKET,
            SocketKind::Raw => libc::SOCK_RAW,
            SocketKind::Other(x) => x,
        }),
        Sockopt::SoAcceptconn(v) => int(i32::from(v)),
        Sockopt::SoDomain(f) => int(match f {
            AddressFamily::Unspec => libc::AF_UNSPEC,
            AddressFamily::Inet => libc::AF_INET,
            AddressFamily::Inet6 => libc::AF_INET6,
            AddressFamily::Unix => libc::AF_UNIX,
            AddressFamily::Other(x) => x,
        }),
        Sockopt::SoProtocol(p) => int(p),
        Sockopt::SoPeercred(c) => {
            let mut out = int(c.pid);
            out.extend(c.uid.to_ne_bytes());
            out.extend(c.gid.to_ne_bytes());
            out
        }
        // Write-only options are never read back.
        Sockopt::IpAddMembership(_)
        | Sockopt::IpDropMembership(_)
        | Sockopt::Ipv6JoinGroup(_)
        | Sockopt::Ipv6LeaveGroup(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_options_round_trip_through_the_typed_list() {
        let one = 1i32.to_ne_bytes();
        let v = decode(libc::IPPROTO_TCP, libc::TCP_NODELAY, &one).unwrap();
        assert!(matches!(v, Sockopt::TcpNodelay(true)));
        assert_eq!(encode(&v), one);
        let linger = [1i32.to_ne_bytes(), 0i32.to_ne_bytes()].concat();
        let v = decode(libc::SOL_SOCKET, libc::SO_LINGER, &linger).unwrap();
        assert!(matches!(v, Sockopt::SoLinger(Some(0))));
        assert_eq!(encode(&v), linger);
        let mreq = [224, 0, 0, 251, 0, 0, 0, 0];
        let v = decode(libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq).unwrap();
        assert!(matches!(v, Sockopt::IpAddMembership(m) if m.group == (224, 0, 0, 251)));
        assert!(matches!(
            decode(libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &[5]).unwrap(),
            Sockopt::IpMulticastTtl(5)
        ));
    }

    #[test]
    fn raw_options_off_the_list_are_refused() {
        let one = 1i32.to_ne_bytes();
        let code = |e: SocketError| e.errno_code();
        let e = decode(libc::SOL_SOCKET, libc::SO_BINDTODEVICE, b"eth0").unwrap_err();
        assert_eq!(code(e), Some(Errno::Permission));
        let e = decode(libc::SOL_SOCKET, 9999, &one).unwrap_err();
        assert_eq!(code(e), Some(Errno::NoProtocolOption));
        let e = decode(-7, libc::SO_REUSEADDR, &one).unwrap_err();
        assert_eq!(code(e), Some(Errno::NoProtocolOption));
        for bad in [&[][..], &[1, 2, 3], &[0; 5], &[0; 1024]] {
            let e = decode(libc::SOL_SOCKET, libc::SO_REUSEADDR, bad).unwrap_err();
            assert_eq!(code(e), Some(Errno::Invalid), "{bad:?}");
        }
        let e = decode(libc::SOL_SOCKET, libc::SO_RCVBUF, &(-1i32).to_ne_bytes()).unwrap_err();
        assert_eq!(code(e), Some(Errno::Invalid));
        let e = decode(libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &[0; 16]).unwrap_err();
        assert_eq!(code(e), Some(Errno::Invalid));
    }
}
