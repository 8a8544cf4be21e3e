//! Name resolution through the host (`socket.getaddrinfo` and friends).

use crate::bindings::sockbox::socket::netdb as wit;
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
