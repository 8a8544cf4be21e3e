//! Conversions between the WIT's address, family and kind values and the OS's.

use std::ffi::OsStr;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use socket2::{Domain, SockAddr, Type};

use crate::core::error::SocketError;
use crate::core::types::{
    AddressFamily, Errno, Ipv4SockAddress, Ipv6SockAddress, SockAddress, SocketKind, UnixAddress,
};

/// The families the host serves: IPv4, IPv6 and Unix-domain.
pub(crate) fn domain(family: AddressFamily) -> Result<Domain, SocketError> {
    match family {
        AddressFamily::Inet => Ok(Domain::IPV4),
        AddressFamily::Inet6 => Ok(Domain::IPV6),
        AddressFamily::Unix => Ok(Domain::UNIX),
        AddressFamily::Unspec | AddressFamily::Other(_) => {
            Err(SocketError::errno(Errno::AddressFamilyNotSupported))
        }
    }
}

/// The OS socket type of a kind. Raw sockets are refused: they bypass every address rule.
pub(crate) fn socket_type(kind: SocketKind) -> Result<Type, SocketError> {
    match kind {
        SocketKind::Stream => Ok(Type::STREAM),
        SocketKind::Dgram => Ok(Type::DGRAM),
        SocketKind::Seqpacket => Ok(Type::SEQPACKET),
        SocketKind::Raw => Err(SocketError::os(
            Errno::Permission,
            "Operation not permitted (raw sockets are not available to guests)",
        )),
        SocketKind::Other(_) => Err(SocketError::errno(Errno::SocketTypeNotSupported)),
    }
}

/// The kind of an OS socket type (for SO_TYPE and getaddrinfo answers).
pub(crate) fn kind_of(ty: Type) -> SocketKind {
    if ty == Type::STREAM {
        SocketKind::Stream
    } else if ty == Type::DGRAM {
        SocketKind::Dgram
    } else if ty == Type::SEQPACKET {
        SocketKind::Seqpacket
    } else if ty == Type::RAW {
        SocketKind::Raw
    } else {
        // The guest numbers kinds its own way; an unnamed host number means nothing to it.
        SocketKind::Other(-1)
    }
}

/// The family of an OS domain number (for getaddrinfo answers).
pub(crate) fn family_of(domain: Domain) -> AddressFamily {
    if domain == Domain::IPV4 {
        AddressFamily::Inet
    } else if domain == Domain::IPV6 {
        AddressFamily::Inet6
    } else if domain == Domain::UNIX {
        AddressFamily::Unix
    } else {
        AddressFamily::Other(-1)
    }
}

/// The IP address of a guest address, for the policy and the OS.
pub(crate) fn to_std(addr: &SockAddress) -> Result<SocketAddr, SocketError> {
    match addr {
        SockAddress::Inet(a) => {
            let (x, y, z, w) = a.address;
            Ok(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::new(x, y, z, w),
                a.port,
            )))
        }
        SockAddress::Inet6(a) => {
            let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7),
                a.port,
                a.flow_info,
                a.scope_id,
            )))
        }
        SockAddress::Unix(_) => Err(SocketError::os(
            Errno::AddressFamilyNotSupported,
            "Address family not supported by protocol (an IP address was expected)",
        )),
    }
}

/// Where a guest address points, for the policy and the OS.
pub(crate) enum Target {
    /// An IPv4 or IPv6 socket address.
    Ip(SocketAddr),
    /// A Unix-domain address.
    Unix(UnixTarget),
}

/// A Unix-domain address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum UnixTarget {
    /// A filesystem path (any bytes but NUL).
    Path(PathBuf),
    /// A Linux abstract name (without the leading NUL).
    Abstract(Vec<u8>),
    /// No name (binding one asks the kernel for an autobind name).
    Unnamed,
}

/// The target of a guest address. A path with a NUL inside is refused (CPython's ValueError
/// "embedded null byte"): the kernel would cut it there.
pub(crate) fn target(addr: &SockAddress) -> Result<Target, SocketError> {
    Ok(match addr {
        SockAddress::Unix(UnixAddress::Path(p)) => {
            if p.contains(&0) {
                return Err(SocketError::value("embedded null byte"));
            }
            if p.is_empty() {
                Target::Unix(UnixTarget::Unnamed)
            } else {
                Target::Unix(UnixTarget::Path(PathBuf::from(OsStr::from_bytes(p))))
            }
        }
        SockAddress::Unix(UnixAddress::Abstract(name)) => {
            Target::Unix(UnixTarget::Abstract(name.clone()))
        }
        SockAddress::Unix(UnixAddress::Unnamed) => Target::Unix(UnixTarget::Unnamed),
        ip => Target::Ip(to_std(ip)?),
    })
}

impl UnixTarget {
    /// The OS form. A path or name too long for `sun_path` is EINVAL ("AF_UNIX path too
    /// long" in CPython).
    pub(crate) fn to_os(&self) -> Result<SockAddr, SocketError> {
        let too_long = |_| SocketError::os(Errno::Invalid, "AF_UNIX path too long");
        match self {
            UnixTarget::Path(p) => SockAddr::unix(p).map_err(too_long),
            UnixTarget::Abstract(name) => {
                let mut bytes = vec![0u8];
                bytes.extend_from_slice(name);
                SockAddr::unix(OsStr::from_bytes(&bytes)).map_err(too_long)
            }
            UnixTarget::Unnamed => SockAddr::unix("").map_err(too_long),
        }
    }

    /// The rustix form, for sendmsg with ancillary data.
    pub(crate) fn to_rustix(&self) -> Result<rustix::net::SocketAddrUnix, SocketError> {
        let too_long = |_| SocketError::os(Errno::Invalid, "AF_UNIX path too long");
        match self {
            UnixTarget::Path(p) => rustix::net::SocketAddrUnix::new(p.as_path()).map_err(too_long),
            UnixTarget::Abstract(name) => {
                rustix::net::SocketAddrUnix::new_abstract_name(name).map_err(too_long)
            }
            UnixTarget::Unnamed => Ok(rustix::net::SocketAddrUnix::new_unnamed()),
        }
    }
}

/// The guest form of a Unix-domain address.
pub(crate) fn unix_address(target: UnixTarget) -> SockAddress {
    SockAddress::Unix(match target {
        UnixTarget::Path(p) => UnixAddress::Path(p.into_os_string().into_vec()),
        UnixTarget::Abstract(name) => UnixAddress::Abstract(name),
        UnixTarget::Unnamed => UnixAddress::Unnamed,
    })
}

/// The guest form of an IP socket address.
pub(crate) fn from_std(addr: SocketAddr) -> SockAddress {
    match addr {
        SocketAddr::V4(a) => {
            let [x, y, z, w] = a.ip().octets();
            SockAddress::Inet(Ipv4SockAddress {
                address: (x, y, z, w),
                port: a.port(),
            })
        }
        SocketAddr::V6(a) => {
            let [s0, s1, s2, s3, s4, s5, s6, s7] = a.ip().segments();
            SockAddress::Inet6(Ipv6SockAddress {
                address: (s0, s1, s2, s3, s4, s5, s6, s7),
                port: a.port(),
                flow_info: a.flowinfo(),
                scope_id: a.scope_id(),
            })
        }
    }
}

/// The guest form of an address the OS returned.
pub(crate) fn from_os(addr: &SockAddr) -> Result<SockAddress, SocketError> {
    if let Some(a) = addr.as_socket() {
        return Ok(from_std(a));
    }
    if addr.is_unix() {
        let target = if let Some(p) = addr.as_pathname() {
            UnixTarget::Path(p.to_path_buf())
        } else if let Some(name) = addr.as_abstract_namespace() {
            UnixTarget::Abstract(name.to_vec())
        } else {
            UnixTarget::Unnamed
        };
        return Ok(unix_address(target));
    }
    Err(SocketError::errno(Errno::AddressFamilyNotSupported))
}

/// A textual form for messages and rules: `1.2.3.4:80`, `[::1]:80`.
pub(crate) fn display(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}
