//! Name resolution through the host (`socket.getaddrinfo` and friends).

use crate::bindings::sockbox::socket::netdb as wit;
use std::net::SocketAddr;

use crate::{AddrInfoFlags, AddressFamily, Result, SocketKind};

/// One answer of [`getaddrinfo`]: Python's `(family, type, proto, canonname, sockaddr)`.
pub use wit::AddrInfo;

/// `socket.getaddrinfo(host, port, family, type, proto, flags)`.
///
/// The host resolves with its own resolver. A host name must be allowed by the host's lookup
/// policy; numeric addresses and `None` are answered without DNS. `port` is a number or a
/// service name as text.
///
/// # Errors
/// [`Error::Gai`](crate::Error::Gai) when the resolver fails (`gaierror`);
/// [`Error::Denied`](crate::Error::Denied) when the policy refuses the name.
pub fn getaddrinfo(
    host: Option<&str>,
    port: Option<&str>,
    family: AddressFamily,
    kind: Option<SocketKind>,
    proto: i32,
    flags: AddrInfoFlags,
) -> Result<Vec<AddrInfo>> {
    Ok(wit::getaddrinfo(host, port, family, kind, proto, flags)?)
}

/// `(hostname, aliaslist, ipaddrlist)`: what gethostbyname_ex and gethostbyaddr return.
pub use wit::HostEntry;
/// `NI_*` flags for [`getnameinfo`].
pub use wit::NameInfoFlags;

/// `socket.getnameinfo(sockaddr, flags)`: `(host, port)` as text.
///
/// # Errors
/// [`Error::Denied`](crate::Error::Denied) for a reverse lookup the host's lookup rules do not
/// cover (use `NameInfoFlags::NUMERICHOST` for none); [`Error::Gai`](crate::Error::Gai).
pub fn getnameinfo(address: SocketAddr, flags: NameInfoFlags) -> Result<(String, String)> {
    Ok(wit::getnameinfo(&address.into(), flags)?)
}

/// `socket.gethostname()`.
///
/// # Errors
/// OS errors.
pub fn gethostname() -> Result<String> {
    Ok(wit::gethostname()?)
}

/// `socket.gethostbyname(name)`: the first IPv4 address, as text.
///
/// # Errors
/// [`Error::Gai`](crate::Error::Gai); [`Error::Denied`](crate::Error::Denied) for a name the
/// lookup rules do not allow.
pub fn gethostbyname(name: &str) -> Result<String> {
    Ok(wit::gethostbyname(name)?)
}

/// `socket.gethostbyname_ex(name)`: IPv4 only, as in CPython. Aliases are not reported.
///
/// # Errors
/// As [`gethostbyname`].
pub fn gethostbyname_ex(name: &str) -> Result<HostEntry> {
    Ok(wit::gethostbyname_ex(name)?)
}

/// `socket.gethostbyaddr(ip_or_name)`: a reverse lookup, under the lookup rules.
///
/// # Errors
/// [`Error::Herror`](crate::Error::Herror) ("Unknown host"); [`Error::Denied`](crate::Error::Denied).
pub fn gethostbyaddr(address: &str) -> Result<HostEntry> {
    Ok(wit::gethostbyaddr(address)?)
}

/// `socket.getfqdn(name)`, socket.py's algorithm: the first name with a dot among
/// gethostbyaddr's name and aliases, else its name; `name` itself when that fails. An empty
/// name (or `0.0.0.0`, `::`) means this host.
///
/// # Errors
/// Only what `gethostname` fails with, for an empty name.
pub fn getfqdn(name: &str) -> Result<String> {
    let mut name = name.trim().to_string();
    if name.is_empty() || name == "0.0.0.0" || name == "::" {
        name = gethostname()?;
    }
    Ok(match gethostbyaddr(&name) {
        Ok(entry) => std::iter::once(&entry.name)
            .chain(entry.aliases.iter())
            .find(|n| n.contains('.'))
            .unwrap_or(&entry.name)
            .clone(),
        Err(_) => name,
    })
}

/// `socket.getservbyname(name, proto)`: the port of a service (`proto`: `"tcp"`, `"udp"`).
///
/// # Errors
/// [`Error::Os`](crate::Error::Os) "service/proto not found".
pub fn getservbyname(name: &str, proto: Option<&str>) -> Result<u16> {
    Ok(wit::getservbyname(name, proto)?)
}

/// `socket.getservbyport(port, proto)`.
///
/// # Errors
/// [`Error::Os`](crate::Error::Os) "port/proto not found".
pub fn getservbyport(port: u16, proto: Option<&str>) -> Result<String> {
    Ok(wit::getservbyport(port, proto)?)
}

/// `socket.getprotobyname(name)`: the IANA number (`"tcp"`: 6).
///
/// # Errors
/// [`Error::Os`](crate::Error::Os) "protocol not found".
pub fn getprotobyname(name: &str) -> Result<i32> {
    Ok(wit::getprotobyname(name)?)
}

/// `socket.if_nameindex()`: every interface as (index, name).
///
/// # Errors
/// OS errors.
pub fn if_nameindex() -> Result<Vec<(u32, String)>> {
    Ok(wit::if_nameindex()?)
}

/// `socket.if_nametoindex(name)`.
///
/// # Errors
/// [`Error::Os`](crate::Error::Os) "no interface with this name".
pub fn if_nametoindex(name: &str) -> Result<u32> {
    Ok(wit::if_nametoindex(name)?)
}

/// `socket.if_indextoname(index)`.
///
/// # Errors
/// [`Error::Os`](crate::Error::Os) "No such device or address".
pub fn if_indextoname(index: u32) -> Result<String> {
    Ok(wit::if_indextoname(index)?)
}
