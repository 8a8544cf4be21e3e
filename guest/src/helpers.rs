//! socket.py's helpers that build sockets: `create_connection`, `create_server`,
//! `socketpair`, `has_dualstack_ipv6`. They run in the host.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::bindings::sockbox::socket::helpers::{self as wit, ConnectionFailure, TimeoutSetting};
use crate::socket::ns;
use crate::{AddressFamily, Error, Result, SockAddress, Socket, SocketKind, ToSockAddress};

/// A `(host, port)` pair: what create_connection takes.
#[derive(Clone, Debug)]
pub struct HostPort {
    host: String,
    port: u16,
}

impl From<(&str, u16)> for HostPort {
    fn from((host, port): (&str, u16)) -> Self {
        HostPort {
            host: host.to_string(),
            port,
        }
    }
}

impl From<(String, u16)> for HostPort {
    fn from((host, port): (String, u16)) -> Self {
        HostPort { host, port }
    }
}

impl From<(IpAddr, u16)> for HostPort {
    fn from((ip, port): (IpAddr, u16)) -> Self {
        HostPort {
            host: ip.to_string(),
            port,
        }
    }
}

impl From<SocketAddr> for HostPort {
    fn from(a: SocketAddr) -> Self {
        (a.ip(), a.port()).into()
    }
}

/// `socket.create_connection(address, ...)`: set options, then [`connect`](Self::connect).
///
/// ```no_run
/// # fn main() -> sockbox::Result<()> {
/// use std::time::Duration;
/// let s = sockbox::create_connection(("localhost", 8080))
///     .timeout(Duration::from_secs(5))
///     .connect()?;
/// # Ok(()) }
/// ```
#[must_use = "nothing happens until .connect()"]
pub struct CreateConnection {
    address: HostPort,
    timeout: TimeoutSetting,
    source: Option<SocketAddr>,
    all_errors: bool,
}

impl std::fmt::Debug for CreateConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateConnection")
            .field("source", &self.source)
            .field("all_errors", &self.all_errors)
            .finish_non_exhaustive()
    }
}

/// `socket.create_connection((host, port))`: a builder; the host resolves `host` (under its
/// lookup rules) and tries each answer in order.
pub fn create_connection(address: impl Into<HostPort>) -> CreateConnection {
    CreateConnection {
        address: address.into(),
        timeout: TimeoutSetting::Default,
        source: None,
        all_errors: false,
    }
}

impl CreateConnection {
    /// `timeout=t` (zero: non-blocking). Without it the default timeout applies.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = TimeoutSetting::After(ns(timeout));
        self
    }

    /// `timeout=None`: blocking, whatever the default timeout.
    pub fn blocking(mut self) -> Self {
        self.timeout = TimeoutSetting::Blocking;
        self
    }

    /// `source_address=(host, port)`: bind there before connecting (under the bind rules).
    pub fn source_address(mut self, source: SocketAddr) -> Self {
        self.source = Some(source);
        self
    }

    /// `all_errors=True`: on failure, [`Error::Group`] with every attempt's error, in order.
    pub fn all_errors(mut self, all: bool) -> Self {
        self.all_errors = all;
        self
    }

    /// Connects.
    ///
    /// # Errors
    /// The last attempt's error, or [`Error::Group`] of all of them in order with
    /// `all_errors`; lookup errors ([`Error::Gai`], [`Error::Denied`]) as they are.
    pub fn connect(self) -> Result<Socket> {
        let source = self.source.map(SockAddress::from);
        match wit::create_connection(
            &self.address.host,
            self.address.port,
            self.timeout,
            source.as_ref(),
            self.all_errors,
        ) {
            Ok(raw) => Ok(Socket::from_raw(raw)),
            Err(ConnectionFailure::Lookup(e)) => Err(e.into()),
            Err(ConnectionFailure::Attempts(errors)) => {
                let mut errors: Vec<Error> = errors.into_iter().map(Error::from).collect();
                if self.all_errors {
                    Err(Error::Group(errors))
                } else {
                    Err(errors
                        .pop()
                        .unwrap_or_else(|| Error::value("no error reported")))
                }
            }
        }
    }
}

/// `socket.create_server(address, ...)`: set options, then [`listen`](Self::listen).
#[must_use = "nothing happens until .listen()"]
pub struct CreateServer<A> {
    address: A,
    family: AddressFamily,
    backlog: Option<i32>,
    reuse_port: bool,
    dualstack_ipv6: bool,
}

impl<A> std::fmt::Debug for CreateServer<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateServer")
            .field("backlog", &self.backlog)
            .field("reuse_port", &self.reuse_port)
            .field("dualstack_ipv6", &self.dualstack_ipv6)
            .finish_non_exhaustive()
    }
}

/// `socket.create_server(address)`: a builder for a listening TCP socket (SO_REUSEADDR set;
/// IPV6_V6ONLY cleared only for dual-stack). `("", port)` is every address.
pub fn create_server<A: ToSockAddress>(address: A) -> CreateServer<A> {
    CreateServer {
        address,
        family: AddressFamily::Inet,
        backlog: None,
        reuse_port: false,
        dualstack_ipv6: false,
    }
}

impl<A: ToSockAddress> CreateServer<A> {
    /// `family=` (AF_INET by default).
    pub fn family(mut self, family: AddressFamily) -> Self {
        self.family = family;
        self
    }

    /// `backlog=` (socket.py's default otherwise).
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = Some(backlog);
        self
    }

    /// `reuse_port=True`: SO_REUSEPORT.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// `dualstack_ipv6=True`: one AF_INET6 socket for IPv4 and IPv6.
    pub fn dualstack_ipv6(mut self, on: bool) -> Self {
        self.dualstack_ipv6 = on;
        self
    }

    /// Binds and listens.
    ///
    /// # Errors
    /// [`Error::Value`] for dual-stack without AF_INET6 (or where it is missing);
    /// [`Error::Denied`] without a bind rule; `addr-in-use` ("bind(...) failed: ...").
    pub fn listen(self) -> Result<Socket> {
        let address = self
            .address
            .to_sock_address(self.family, SocketKind::Stream)?;
        let raw = wit::create_server(
            &address,
            self.family,
            self.backlog,
            self.reuse_port,
            self.dualstack_ipv6,
        )?;
        Ok(Socket::from_raw(raw))
    }
}

/// `socket.socketpair(family, type, proto)`: two connected sockets; `None` takes socket.py's
/// defaults, `AF_UNIX` and `SOCK_STREAM`. AF_UNIX pairs are the OS's socketpair(2);
/// AF_INET/AF_INET6 pairs use socket.py's fallback (a loopback listener with a peer check),
/// in the host. No policy rule is needed.
///
/// # Errors
/// `not-supported` for a kind the family has no pairs of; OS errors.
pub fn socketpair(
    family: impl Into<Option<AddressFamily>>,
    kind: impl Into<Option<SocketKind>>,
    proto: i32,
) -> Result<(Socket, Socket)> {
    let family = family.into().unwrap_or(AddressFamily::Unix);
    let kind = kind.into().unwrap_or(SocketKind::Stream);
    let (a, b) = wit::socketpair(family, kind, proto)?;
    Ok((Socket::from_raw(a), Socket::from_raw(b)))
}

/// `socket.has_dualstack_ipv6()`.
pub fn has_dualstack_ipv6() -> bool {
    wit::has_dualstack_ipv6()
}
