//! The typed socket options: `getsockopt` and `setsockopt` on the OS socket.
//!
//! socket2 does most; rustix the TCP keepalive knobs it lacks as separate options; one libc
//! call the option neither has (SO_RCVLOWAT).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::addr::kind_of;
use crate::bindings::sockbox::socket::socket::{
    Ipv4Membership, Ipv6Membership, PeerCredentials, Sockopt, SockoptName,
};
use crate::bindings::sockbox::socket::types::Errno;
use crate::ctx::SocketCtx;
use crate::error::{SocketError, errno_from_raw};
use crate::socket::deny;

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
        N::SoPeercred => {
            let cred = rustix::net::sockopt::socket_peercred(os)?;
            Sockopt::SoPeercred(PeerCredentials {
                pid: cred.pid.as_raw_nonzero().get(),
                uid: cred.uid.as_raw(),
                gid: cred.gid.as_raw(),
            })
        }
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
        Sockopt::SoError(_) | Sockopt::SoType(_) | Sockopt::SoPeercred(_) => {
            return Err(SocketError::os(
                Errno::NoProtocolOption,
                "Protocol not available (SO_ERROR, SO_TYPE and SO_PEERCRED are read only)",
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
            ctx.policy.check_multicast(group.into()).map_err(deny)?;
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
            ctx.policy.check_multicast(group.into()).map_err(deny)?;
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
