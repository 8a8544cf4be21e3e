//! Conversions between the WIT's address, family and kind values and the OS's.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use socket2::{Domain, SockAddr, Type};

use crate::bindings::sockbox::socket::types::{
    AddressFamily, Errno, Ipv4SockAddress, Ipv6SockAddress, SockAddress, SocketKind,
};
use crate::error::SocketError;

/// The families the host serves: IPv4 and IPv6 (Unix-domain sockets are not served yet).
pub(crate) fn domain(family: AddressFamily) -> Result<Domain, SocketError> {
    match family {
        AddressFamily::Inet => Ok(Domain::IPV4),
        AddressFamily::Inet6 => Ok(Domain::IPV6),
        AddressFamily::Unix => Err(SocketError::os(
            Errno::AddressFamilyNotSupported,
            "Address family not supported by protocol (AF_UNIX is not served by this host yet)",
        )),
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
            "Address family not supported by protocol (AF_UNIX is not served by this host yet)",
        )),
    }
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
    match addr.as_socket() {
        Some(a) => Ok(from_std(a)),
        None => Err(SocketError::errno(Errno::AddressFamilyNotSupported)),
    }
}

/// A textual form for messages and rules: `1.2.3.4:80`, `[::1]:80`.
pub(crate) fn display(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}
