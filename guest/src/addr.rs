//! Socket addresses: the WIT's [`SockAddress`], its conversions to and from std's, and the
//! [`ToSockAddress`] forms a socket method accepts (Python's `(host, port)` tuples).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::{Path, PathBuf};

use crate::bindings::sockbox::socket::types::{Ipv4SockAddress, Ipv6SockAddress};
use crate::{AddressFamily, Error, Result, SocketKind, UnixAddress};

pub use crate::bindings::sockbox::socket::types::SockAddress;

impl From<SocketAddr> for SockAddress {
    fn from(a: SocketAddr) -> Self {
        match a {
            SocketAddr::V4(a) => a.into(),
            SocketAddr::V6(a) => a.into(),
        }
    }
}

impl From<SocketAddrV4> for SockAddress {
    fn from(a: SocketAddrV4) -> Self {
        let [x, y, z, w] = a.ip().octets();
        SockAddress::Inet(Ipv4SockAddress {
            address: (x, y, z, w),
            port: a.port(),
        })
    }
}

impl From<SocketAddrV6> for SockAddress {
    fn from(a: SocketAddrV6) -> Self {
        let [s0, s1, s2, s3, s4, s5, s6, s7] = a.ip().segments();
        SockAddress::Inet6(Ipv6SockAddress {
            address: (s0, s1, s2, s3, s4, s5, s6, s7),
            port: a.port(),
            flow_info: a.flowinfo(),
            scope_id: a.scope_id(),
        })
    }
}

impl SockAddress {
    /// The IP socket address, or `None` for a Unix-domain address.
    pub fn as_socket(&self) -> Option<SocketAddr> {
        match self {
            SockAddress::Inet(a) => {
                let (x, y, z, w) = a.address;
                Some(SocketAddrV4::new(Ipv4Addr::new(x, y, z, w), a.port).into())
            }
            SockAddress::Inet6(a) => {
                let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
                let ip = Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7);
                Some(SocketAddrV6::new(ip, a.port, a.flow_info, a.scope_id).into())
            }
            SockAddress::Unix(_) => None,
        }
    }

    /// The port of an IP address.
    pub fn port(&self) -> Option<u16> {
        self.as_socket().map(|a| a.port())
    }

    /// The address family.
    pub fn family(&self) -> AddressFamily {
        match self {
            SockAddress::Inet(_) => AddressFamily::Inet,
            SockAddress::Inet6(_) => AddressFamily::Inet6,
            SockAddress::Unix(_) => AddressFamily::Unix,
        }
    }
}

impl SockAddress {
    /// A Unix-domain path (any bytes but NUL; it need not be UTF-8).
    pub fn unix_path(path: impl AsRef<Path>) -> SockAddress {
        SockAddress::Unix(UnixAddress::Path(
            path.as_ref().as_os_str().as_encoded_bytes().to_vec(),
        ))
    }

    /// A Linux abstract name (without the leading NUL).
    pub fn abstract_name(name: impl Into<Vec<u8>>) -> SockAddress {
        SockAddress::Unix(UnixAddress::Abstract(name.into()))
    }
}

impl ToSockAddress for &Path {
    fn to_sock_address(&self, _: AddressFamily, _: SocketKind) -> Result<SockAddress> {
        Ok(SockAddress::unix_path(self))
    }
}

impl ToSockAddress for PathBuf {
    fn to_sock_address(&self, _: AddressFamily, _: SocketKind) -> Result<SockAddress> {
        Ok(SockAddress::unix_path(self))
    }
}

impl ToSockAddress for UnixAddress {
    fn to_sock_address(&self, _: AddressFamily, _: SocketKind) -> Result<SockAddress> {
        Ok(SockAddress::Unix(self.clone()))
    }
}

impl TryFrom<SockAddress> for SocketAddr {
    type Error = Error;

    fn try_from(a: SockAddress) -> Result<SocketAddr> {
        a.as_socket()
            .ok_or_else(|| Error::value("not an IP socket address"))
    }
}

/// `127.0.0.1:80`, `[::1]:80`, a Unix path as text, `@name` for an abstract name.
impl fmt::Display for SockAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SockAddress::Unix(UnixAddress::Path(p)) => write!(f, "{}", String::from_utf8_lossy(p)),
            SockAddress::Unix(UnixAddress::Abstract(p)) => {
                write!(f, "@{}", String::from_utf8_lossy(p))
            }
            SockAddress::Unix(UnixAddress::Unnamed) => f.write_str("''"),
            _ => match self.as_socket() {
                Some(a) => write!(f, "{a}"),
                None => Ok(()),
            },
        }
    }
}

/// What socket methods take as an address: Python's `(host, port)` and std's addresses.
///
/// A host name is resolved by the host's `getaddrinfo` (under its lookup policy) for the
/// socket's family and kind, and the first answer is used, as CPython's `setipaddr` does.
/// `""` is the any-address and `"<broadcast>"` the broadcast address, as in CPython.
pub trait ToSockAddress {
    /// The address for a socket of this family and kind.
    ///
    /// # Errors
    /// [`Error::Value`] for a port outside 0–65535 (Python's `OverflowError`); lookup errors
    /// ([`Error::Gai`], [`Error::Denied`]) for a host name that cannot be resolved.
    fn to_sock_address(&self, family: AddressFamily, kind: SocketKind) -> Result<SockAddress>;
}

impl ToSockAddress for SockAddress {
    fn to_sock_address(&self, _: AddressFamily, _: SocketKind) -> Result<SockAddress> {
        Ok(self.clone())
    }
}

impl ToSockAddress for SocketAddr {
    fn to_sock_address(&self, _: AddressFamily, _: SocketKind) -> Result<SockAddress> {
        Ok((*self).into())
    }
}

impl ToSockAddress for SocketAddrV4 {
    fn to_sock_address(&self, _: AddressFamily, _: SocketKind) -> Result<SockAddress> {
        Ok((*self).into())
    }
}

impl ToSockAddress for SocketAddrV6 {
    fn to_sock_address(&self, _: AddressFamily, _: SocketKind) -> Result<SockAddress> {
        Ok((*self).into())
    }
}

macro_rules! ip_tuples {
    ($($ip:ty),*) => {$(
        impl ToSockAddress for ($ip, u16) {
            fn to_sock_address(&self, _: AddressFamily, _: SocketKind) -> Result<SockAddress> {
                Ok(SocketAddr::new(self.0.into(), self.1).into())
            }
        }
    )*};
}

ip_tuples!(IpAddr, Ipv4Addr, Ipv6Addr);

impl ToSockAddress for (&str, u16) {
    fn to_sock_address(&self, family: AddressFamily, kind: SocketKind) -> Result<SockAddress> {
        resolve(self.0, self.1, family, kind)
    }
}

impl ToSockAddress for (String, u16) {
    fn to_sock_address(&self, family: AddressFamily, kind: SocketKind) -> Result<SockAddress> {
        resolve(&self.0, self.1, family, kind)
    }
}

/// Python's ints are unbounded: a port given as `i32` is checked like `getsockaddrarg` does.
impl ToSockAddress for (&str, i32) {
    fn to_sock_address(&self, family: AddressFamily, kind: SocketKind) -> Result<SockAddress> {
        resolve(self.0, check_port(i64::from(self.1))?, family, kind)
    }
}

/// Python's ints are unbounded: a port given as `u32` is checked like `getsockaddrarg` does.
impl ToSockAddress for (&str, u32) {
    fn to_sock_address(&self, family: AddressFamily, kind: SocketKind) -> Result<SockAddress> {
        resolve(self.0, check_port(i64::from(self.1))?, family, kind)
    }
}

fn check_port(port: i64) -> Result<u16> {
    u16::try_from(port).map_err(|_| Error::value("getsockaddrarg: port must be 0-65535."))
}

fn resolve(host: &str, port: u16, family: AddressFamily, kind: SocketKind) -> Result<SockAddress> {
    let ip: Option<IpAddr> = match host {
        "" => Some(match family {
            AddressFamily::Inet6 => Ipv6Addr::UNSPECIFIED.into(),
            _ => Ipv4Addr::UNSPECIFIED.into(),
        }),
        "<broadcast>" => Some(Ipv4Addr::BROADCAST.into()),
        _ => host.parse().ok(),
    };
    if let Some(ip) = ip {
        // As CPython's setipaddr: a literal of the other family is a lookup failure.
        let fits = match family {
            AddressFamily::Inet => ip.is_ipv4(),
            AddressFamily::Inet6 => ip.is_ipv6(),
            _ => true,
        };
        if !fits {
            return Err(Error::Gai {
                code: crate::GaiCode::AddressFamily,
                message: "Address family for hostname not supported".into(),
            });
        }
        return Ok(SocketAddr::new(ip, port).into());
    }
    let port_text = port.to_string();
    let answers = crate::netdb::getaddrinfo(
        Some(host),
        Some(&port_text),
        family,
        Some(kind),
        0,
        crate::AddrInfoFlags::empty(),
    )?;
    answers
        .into_iter()
        .next()
        .map(|a| a.address)
        .ok_or_else(|| Error::Gai {
            code: crate::GaiCode::NoName,
            message: "Name or service not known".into(),
        })
}
