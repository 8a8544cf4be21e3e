//! The C constants as numbers, and numbers back to the WIT's named values (socket.py's
//! `IntEnum` converters). Numbers never cross to the host: these are the guest's own.
//!
//! Families and socket types take wasi-libc's numbers on `wasm32-wasip2` where it defines them
//! (`AF_INET` is 1 there) and the C library's elsewhere; `MSG_*` and `AI_*` take Linux's.

use crate::{AddrInfoFlags, AddressFamily, Error, MsgFlags, Result, SocketKind};

#[cfg(target_os = "wasi")]
mod sys {
    pub(super) const AF_UNSPEC: i32 = 0;
    pub(super) const AF_INET: i32 = 1;
    pub(super) const AF_INET6: i32 = 2;
    pub(super) const AF_UNIX: i32 = 3;
    pub(super) const SOCK_DGRAM: i32 = 5;
    pub(super) const SOCK_STREAM: i32 = 6;
    // Not in wasi-libc: sockbox's own, clear of the two above.
    pub(super) const SOCK_RAW: i32 = 3;
    pub(super) const SOCK_SEQPACKET: i32 = 7;
}

#[cfg(not(target_os = "wasi"))]
mod sys {
    pub(super) const AF_UNSPEC: i32 = libc::AF_UNSPEC;
    pub(super) const AF_INET: i32 = libc::AF_INET;
    pub(super) const AF_INET6: i32 = libc::AF_INET6;
    pub(super) const AF_UNIX: i32 = libc::AF_UNIX;
    pub(super) const SOCK_DGRAM: i32 = libc::SOCK_DGRAM;
    pub(super) const SOCK_STREAM: i32 = libc::SOCK_STREAM;
    pub(super) const SOCK_RAW: i32 = libc::SOCK_RAW;
    pub(super) const SOCK_SEQPACKET: i32 = libc::SOCK_SEQPACKET;
}

/// AF_UNSPEC
pub const AF_UNSPEC: i32 = sys::AF_UNSPEC;
/// AF_INET
pub const AF_INET: i32 = sys::AF_INET;
/// AF_INET6
pub const AF_INET6: i32 = sys::AF_INET6;
/// AF_UNIX
pub const AF_UNIX: i32 = sys::AF_UNIX;
/// SOCK_STREAM
pub const SOCK_STREAM: i32 = sys::SOCK_STREAM;
/// SOCK_DGRAM
pub const SOCK_DGRAM: i32 = sys::SOCK_DGRAM;
/// SOCK_SEQPACKET
pub const SOCK_SEQPACKET: i32 = sys::SOCK_SEQPACKET;
/// SOCK_RAW
pub const SOCK_RAW: i32 = sys::SOCK_RAW;

/// MSG_OOB
pub const MSG_OOB: i32 = 0x1;
/// MSG_PEEK
pub const MSG_PEEK: i32 = 0x2;
/// MSG_DONTROUTE
pub const MSG_DONTROUTE: i32 = 0x4;
/// MSG_CTRUNC
pub const MSG_CTRUNC: i32 = 0x8;
/// MSG_TRUNC
pub const MSG_TRUNC: i32 = 0x20;
/// MSG_DONTWAIT
pub const MSG_DONTWAIT: i32 = 0x40;
/// MSG_EOR
pub const MSG_EOR: i32 = 0x80;
/// MSG_WAITALL
pub const MSG_WAITALL: i32 = 0x100;

/// AI_PASSIVE
pub const AI_PASSIVE: i32 = 0x1;
/// AI_CANONNAME
pub const AI_CANONNAME: i32 = 0x2;
/// AI_NUMERICHOST
pub const AI_NUMERICHOST: i32 = 0x4;
/// AI_V4MAPPED
pub const AI_V4MAPPED: i32 = 0x8;
/// AI_ALL
pub const AI_ALL: i32 = 0x10;
/// AI_ADDRCONFIG
pub const AI_ADDRCONFIG: i32 = 0x20;
/// AI_NUMERICSERV
pub const AI_NUMERICSERV: i32 = 0x400;

/// SHUT_RD: `shutdown` of the reading side.
pub const SHUT_RD: i32 = 0;
/// SHUT_WR: `shutdown` of the writing side.
pub const SHUT_WR: i32 = 1;
/// SHUT_RDWR: `shutdown` of both sides.
pub const SHUT_RDWR: i32 = 2;

/// SOMAXCONN: Linux's largest listen backlog by default (`listen()` asks for at most 128).
pub const SOMAXCONN: i32 = 4096;

/// NI_NUMERICHOST
pub const NI_NUMERICHOST: i32 = 1;
/// NI_NUMERICSERV
pub const NI_NUMERICSERV: i32 = 2;
/// NI_NOFQDN
pub const NI_NOFQDN: i32 = 4;
/// NI_NAMEREQD
pub const NI_NAMEREQD: i32 = 8;
/// NI_DGRAM
pub const NI_DGRAM: i32 = 16;
/// NI_MAXHOST: room for a host name from `getnameinfo`.
pub const NI_MAXHOST: i32 = 1025;
/// NI_MAXSERV: room for a service name from `getnameinfo`.
pub const NI_MAXSERV: i32 = 32;

/// EAI_BADFLAGS
pub const EAI_BADFLAGS: i32 = -1;
/// EAI_NONAME
pub const EAI_NONAME: i32 = -2;
/// EAI_AGAIN
pub const EAI_AGAIN: i32 = -3;
/// EAI_FAIL
pub const EAI_FAIL: i32 = -4;
/// EAI_NODATA
pub const EAI_NODATA: i32 = -5;
/// EAI_FAMILY
pub const EAI_FAMILY: i32 = -6;
/// EAI_SOCKTYPE
pub const EAI_SOCKTYPE: i32 = -7;
/// EAI_SERVICE
pub const EAI_SERVICE: i32 = -8;
/// EAI_ADDRFAMILY
pub const EAI_ADDRFAMILY: i32 = -9;
/// EAI_MEMORY
pub const EAI_MEMORY: i32 = -10;
/// EAI_SYSTEM
pub const EAI_SYSTEM: i32 = -11;
/// EAI_OVERFLOW
pub const EAI_OVERFLOW: i32 = -12;

/// INADDR_ANY (0.0.0.0), as a host-order number.
pub const INADDR_ANY: u32 = 0;
/// INADDR_BROADCAST (255.255.255.255).
pub const INADDR_BROADCAST: u32 = 0xFFFF_FFFF;
/// INADDR_LOOPBACK (127.0.0.1).
pub const INADDR_LOOPBACK: u32 = 0x7F00_0001;
/// INADDR_NONE
pub const INADDR_NONE: u32 = 0xFFFF_FFFF;
/// INADDR_UNSPEC_GROUP (224.0.0.0).
pub const INADDR_UNSPEC_GROUP: u32 = 0xE000_0000;
/// INADDR_ALLHOSTS_GROUP (224.0.0.1).
pub const INADDR_ALLHOSTS_GROUP: u32 = 0xE000_0001;
/// INADDR_MAX_LOCAL_GROUP (224.0.0.255).
pub const INADDR_MAX_LOCAL_GROUP: u32 = 0xE000_00FF;

/// The size of a control message header (`struct cmsghdr` on 64-bit Linux, which the host is).
const CMSG_HEADER: usize = 16;

/// `socket.CMSG_LEN(length)`: the size of a control message carrying `length` bytes of data.
///
/// # Errors
/// [`Error::Value`] when the size would not fit (CPython's OverflowError).
#[allow(non_snake_case)]
pub fn CMSG_LEN(length: usize) -> Result<usize> {
    length
        .checked_add(CMSG_HEADER)
        .filter(|n| *n <= i32::MAX as usize)
        .ok_or_else(|| Error::Value("CMSG_LEN() argument out of range".into()))
}

/// `socket.CMSG_SPACE(length)`: [`CMSG_LEN`] padded to the alignment of the next message.
///
/// # Errors
/// [`Error::Value`] when the size would not fit.
#[allow(non_snake_case)]
pub fn CMSG_SPACE(length: usize) -> Result<usize> {
    let padded = length
        .checked_add(7)
        .map(|n| n & !7)
        .ok_or_else(|| Error::Value("CMSG_SPACE() argument out of range".into()))?;
    CMSG_LEN(padded).map_err(|_| Error::Value("CMSG_SPACE() argument out of range".into()))
}

/// A family number; one with no name stays `Other(n)`, as socket.py keeps unknown ints.
impl From<i32> for AddressFamily {
    fn from(n: i32) -> Self {
        match n {
            AF_UNSPEC => AddressFamily::Unspec,
            AF_INET => AddressFamily::Inet,
            AF_INET6 => AddressFamily::Inet6,
            AF_UNIX => AddressFamily::Unix,
            other => AddressFamily::Other(other),
        }
    }
}

impl AddressFamily {
    /// This family's number.
    pub fn raw(self) -> i32 {
        match self {
            AddressFamily::Unspec => AF_UNSPEC,
            AddressFamily::Inet => AF_INET,
            AddressFamily::Inet6 => AF_INET6,
            AddressFamily::Unix => AF_UNIX,
            AddressFamily::Other(n) => n,
        }
    }
}

/// A socket type number; one with no name stays `Other(n)`.
impl From<i32> for SocketKind {
    fn from(n: i32) -> Self {
        match n {
            SOCK_STREAM => SocketKind::Stream,
            SOCK_DGRAM => SocketKind::Dgram,
            SOCK_SEQPACKET => SocketKind::Seqpacket,
            SOCK_RAW => SocketKind::Raw,
            other => SocketKind::Other(other),
        }
    }
}

impl SocketKind {
    /// This kind's number.
    pub fn raw(self) -> i32 {
        match self {
            SocketKind::Stream => SOCK_STREAM,
            SocketKind::Dgram => SOCK_DGRAM,
            SocketKind::Seqpacket => SOCK_SEQPACKET,
            SocketKind::Raw => SOCK_RAW,
            SocketKind::Other(n) => n,
        }
    }
}

const MSG_BITS: [(MsgFlags, i32); 8] = [
    (MsgFlags::OOB, MSG_OOB),
    (MsgFlags::PEEK, MSG_PEEK),
    (MsgFlags::DONTROUTE, MSG_DONTROUTE),
    (MsgFlags::CTRUNC, MSG_CTRUNC),
    (MsgFlags::TRUNC, MSG_TRUNC),
    (MsgFlags::DONTWAIT, MSG_DONTWAIT),
    (MsgFlags::EOR, MSG_EOR),
    (MsgFlags::WAITALL, MSG_WAITALL),
];

const AI_BITS: [(AddrInfoFlags, i32); 7] = [
    (AddrInfoFlags::PASSIVE, AI_PASSIVE),
    (AddrInfoFlags::CANONNAME, AI_CANONNAME),
    (AddrInfoFlags::NUMERICHOST, AI_NUMERICHOST),
    (AddrInfoFlags::V4MAPPED, AI_V4MAPPED),
    (AddrInfoFlags::ALL, AI_ALL),
    (AddrInfoFlags::ADDRCONFIG, AI_ADDRCONFIG),
    (AddrInfoFlags::NUMERICSERV, AI_NUMERICSERV),
];

/// Flags from bits, refusing bits with no name (they would be silently lost).
fn from_bits<F: Copy + std::ops::BitOr<Output = F>>(
    raw: i32,
    table: &[(F, i32)],
    none: F,
    what: &str,
) -> Result<F> {
    let mut flags = none;
    let mut rest = raw;
    for &(flag, bit) in table {
        if raw & bit != 0 {
            flags = flags | flag;
            rest &= !bit;
        }
    }
    if rest != 0 {
        return Err(Error::value(format!("unknown {what} bits {rest:#x}")));
    }
    Ok(flags)
}

fn to_bits<F: Copy + PartialEq + std::ops::BitAnd<Output = F>>(
    flags: F,
    table: &[(F, i32)],
    none: F,
) -> i32 {
    table
        .iter()
        .filter(|(flag, _)| flags & *flag != none)
        .fold(0, |acc, (_, bit)| acc | bit)
}

impl MsgFlags {
    /// `MSG_*` bits as flags.
    ///
    /// # Errors
    /// [`Error::Value`] for bits with no name here.
    pub fn from_raw(raw: i32) -> Result<MsgFlags> {
        from_bits(raw, &MSG_BITS, MsgFlags::empty(), "MSG_*")
    }

    /// These flags as `MSG_*` bits.
    pub fn raw(self) -> i32 {
        to_bits(self, &MSG_BITS, MsgFlags::empty())
    }
}

impl AddrInfoFlags {
    /// `AI_*` bits as flags.
    ///
    /// # Errors
    /// [`Error::Value`] for bits with no name here.
    pub fn from_raw(raw: i32) -> Result<AddrInfoFlags> {
        from_bits(raw, &AI_BITS, AddrInfoFlags::empty(), "AI_*")
    }

    /// These flags as `AI_*` bits.
    pub fn raw(self) -> i32 {
        to_bits(self, &AI_BITS, AddrInfoFlags::empty())
    }
}

/// Option levels and names for [`Socket::setsockopt_raw`](crate::Socket::setsockopt_raw) and
/// [`Socket::getsockopt_raw`](crate::Socket::getsockopt_raw): Linux's numbers, which the host
/// takes (socket.py's `setsockopt(level, name, value)`).
pub mod sockopt {
    /// SOL_SOCKET
    pub const SOL_SOCKET: i32 = 1;
    /// SO_DEBUG
    pub const SO_DEBUG: i32 = 1;
    /// SO_REUSEADDR
    pub const SO_REUSEADDR: i32 = 2;
    /// SO_TYPE
    pub const SO_TYPE: i32 = 3;
    /// SO_ERROR
    pub const SO_ERROR: i32 = 4;
    /// SO_BROADCAST
    pub const SO_BROADCAST: i32 = 6;
    /// SO_SNDBUF
    pub const SO_SNDBUF: i32 = 7;
    /// SO_RCVBUF
    pub const SO_RCVBUF: i32 = 8;
    /// SO_KEEPALIVE
    pub const SO_KEEPALIVE: i32 = 9;
    /// SO_PRIORITY
    pub const SO_PRIORITY: i32 = 12;
    /// SO_LINGER
    pub const SO_LINGER: i32 = 13;
    /// SO_REUSEPORT
    pub const SO_REUSEPORT: i32 = 15;
    /// SO_PEERCRED
    pub const SO_PEERCRED: i32 = 17;
    /// SO_RCVLOWAT
    pub const SO_RCVLOWAT: i32 = 18;
    /// SO_BINDTODEVICE
    pub const SO_BINDTODEVICE: i32 = 25;
    /// SO_MARK
    pub const SO_MARK: i32 = 36;
    /// IPPROTO_IP
    pub const IPPROTO_IP: i32 = 0;
    /// IPPROTO_TCP
    pub const IPPROTO_TCP: i32 = 6;
    /// IPPROTO_UDP
    pub const IPPROTO_UDP: i32 = 17;
    /// IPPROTO_IPV6
    pub const IPPROTO_IPV6: i32 = 41;
    /// TCP_NODELAY
    pub const TCP_NODELAY: i32 = 1;
    /// TCP_CORK
    pub const TCP_CORK: i32 = 3;
    /// TCP_KEEPIDLE
    pub const TCP_KEEPIDLE: i32 = 4;
    /// TCP_KEEPINTVL
    pub const TCP_KEEPINTVL: i32 = 5;
    /// TCP_KEEPCNT
    pub const TCP_KEEPCNT: i32 = 6;
    /// TCP_QUICKACK
    pub const TCP_QUICKACK: i32 = 12;
    /// TCP_USER_TIMEOUT
    pub const TCP_USER_TIMEOUT: i32 = 18;
    /// IP_TTL
    pub const IP_TTL: i32 = 2;
    /// IP_TRANSPARENT
    pub const IP_TRANSPARENT: i32 = 19;
    /// IP_MULTICAST_TTL
    pub const IP_MULTICAST_TTL: i32 = 33;
    /// IP_MULTICAST_LOOP
    pub const IP_MULTICAST_LOOP: i32 = 34;
    /// IP_ADD_MEMBERSHIP
    pub const IP_ADD_MEMBERSHIP: i32 = 35;
    /// IP_DROP_MEMBERSHIP
    pub const IP_DROP_MEMBERSHIP: i32 = 36;
    /// IPV6_UNICAST_HOPS
    pub const IPV6_UNICAST_HOPS: i32 = 16;
    /// IPV6_MULTICAST_HOPS
    pub const IPV6_MULTICAST_HOPS: i32 = 18;
    /// IPV6_MULTICAST_LOOP
    pub const IPV6_MULTICAST_LOOP: i32 = 19;
    /// IPV6_JOIN_GROUP
    pub const IPV6_JOIN_GROUP: i32 = 20;
    /// IPV6_LEAVE_GROUP
    pub const IPV6_LEAVE_GROUP: i32 = 21;
    /// IPV6_V6ONLY
    pub const IPV6_V6ONLY: i32 = 26;
}
