//! sockbox: CPython's `socket` module for `wasm32-wasip2` guests.
//!
//! The host (crate `sockbox-host`, or `sockbox run`) serves real OS sockets under its policy;
//! this crate gives them the shape of Python's `socket.py` with Rust habits: [`Socket`]
//! implements [`Read`](std::io::Read) and [`Write`](std::io::Write), errors are [`Error`]
//! (which converts into [`std::io::Error`]), addresses convert to and from
//! [`std::net::SocketAddr`].
//!
//! ```no_run
//! use std::io::{BufRead, Write};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The host resolves "localhost" and checks the address against its policy.
//! let s = sockbox::create_connection(("localhost", 8000))
//!     .timeout(Duration::from_secs(5))
//!     .connect()?;
//! let mut out = s.makefile("wb")?;
//! write!(out, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
//! out.flush()?;
//! for line in s.makefile("r")?.lines() {
//!     println!("{}", line?);
//! }
//! # Ok(()) }
//! ```
//!
//! The README has a table of every socket.py name beside this crate's.
//!
//! Outside wasm (for docs and host-side type checks) the crate compiles, but every call that
//! reaches the host panics: there is no host.
#![deny(missing_docs)]

mod addr;
pub mod consts;
mod error;
pub mod fs;
mod helpers;
mod io;
mod netdb;
mod poll;
mod socket;
pub mod tls;
mod unix;
mod util;

pub use addr::{SockAddress, ToSockAddress};
pub use error::{Error, Result};
pub use helpers::{
    CreateConnection, CreateServer, HostPort, create_connection, create_server, has_dualstack_ipv6,
    socketpair,
};
pub use io::{DEFAULT_BUFFER_SIZE, Newline, SocketFile, SocketIo};
pub use netdb::{
    AddrInfo, HostEntry, NameInfoFlags, getaddrinfo, getfqdn, gethostbyaddr, gethostbyname,
    gethostbyname_ex, gethostname, getnameinfo, getprotobyname, getservbyname, getservbyport,
    if_indextoname, if_nameindex, if_nametoindex,
};
pub use poll::{Poller, select};
pub use socket::{
    Socket, WasiTcp, close, dup, fromfd, getdefaulttimeout, preopened_sockets, setdefaulttimeout,
    timeout_from_secs,
};
pub use unix::{Ancillary, Fd, FdsMessage, ReceivedFd, fromshare, recv_fds, send_fds};
pub use util::{htonl, htons, inet_aton, inet_ntoa, inet_ntop, inet_pton, ntohl, ntohs};

/// The WIT types, under the names the WIT gives them.
pub use bindings::sockbox::socket::netdb::AddrInfoFlags;
pub use bindings::sockbox::socket::socket::{
    Interest, Ipv4Membership, Ipv6Membership, Message, PeerCredentials, Sockopt, SockoptName,
};
pub use bindings::sockbox::socket::types::{
    AddressFamily, Errno, GaiCode, HCode, MsgFlags, PolicyAction, PolicyDenial, SocketKind,
    UnixAddress,
};

/// Guest bindings generated from `wit/` (world `sockbox:socket/guest`).
#[allow(missing_docs)]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "sockbox:socket/guest",
        // wasi types are the `wasi` crate's, so a `wasi::filesystem` descriptor can be handed
        // to sendfile and send_fds as it is.
        with: {
            "wasi:io/poll@0.2.12": wasi::io::poll,
            "wasi:io/error@0.2.12": wasi::io::error,
            "wasi:io/streams@0.2.12": wasi::io::streams,
            "wasi:clocks/wall-clock@0.2.12": wasi::clocks::wall_clock,
            "wasi:filesystem/types@0.2.12": wasi::filesystem::types,
            "wasi:clocks/monotonic-clock@0.2.12": wasi::clocks::monotonic_clock,
            "wasi:sockets/network@0.2.12": wasi::sockets::network,
            "wasi:sockets/tcp@0.2.12": wasi::sockets::tcp,
            "wasi:sockets/udp@0.2.12": wasi::sockets::udp,
        },
    });
}
