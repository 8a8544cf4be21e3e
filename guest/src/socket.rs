//! [`Socket`]: `socket.socket`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use crate::bindings::sockbox::socket::preopens;
use crate::bindings::sockbox::socket::socket::{self as wit, Sockopt, SockoptName};
use crate::bindings::sockbox::socket::types::ShutdownHow;
use crate::{
    AddressFamily, Errno, Error, MsgFlags, Result, SockAddress, SocketKind, ToSockAddress,
};

/// A socket, served by the host: Python's `socket.socket`.
///
/// Dropping it closes it. Its blocking mode and timeout work as in socket.py:
/// [`settimeout(None)`](Self::settimeout) blocks, `Some(ZERO)` never waits (a call that would
/// wait fails with `again`, Python's `BlockingIOError`), `Some(t)` waits up to `t` and then
/// fails with [`Error::Timeout`].
pub struct Socket {
    raw: wit::Socket,
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Socket {
    /// `socket.socket(family, type, proto)`; it starts with the default timeout.
    ///
    /// # Errors
    /// `address-family-not-supported`, `socket-type-not-supported` or
    /// `protocol-not-supported` for what the host does not serve; `permission` for raw
    /// sockets.
    pub fn new(family: AddressFamily, kind: SocketKind, proto: i32) -> Result<Socket> {
        Ok(Socket {
            raw: wit::Socket::create(family, kind, proto)?,
        })
    }

    /// The guest-side number of this socket (its handle): `fileno()`. Never a host fd.
    pub fn fileno(&self) -> i32 {
        self.raw.handle() as i32
    }

    /// `bind(address)`.
    ///
    /// # Errors
    /// [`Error::Denied`] when the host's bind rules refuse the address; `addr-in-use`,
    /// `addr-not-available` from the OS.
    pub fn bind(&self, address: impl ToSockAddress) -> Result<()> {
        Ok(self.raw.bind(&self.address(address)?)?)
    }

    /// `listen(backlog)`.
    ///
    /// # Errors
    /// `bad-descriptor` when closed; OS errors.
    pub fn listen(&self, backlog: i32) -> Result<()> {
        Ok(self.raw.listen(backlog)?)
    }

    /// `accept()`: the connection and the peer's address.
    ///
    /// # Errors
    /// [`Error::Timeout`], `again` when non-blocking, `canceled` when the host interrupts the instance.
    pub fn accept(&self) -> Result<(Socket, SockAddress)> {
        let (raw, peer) = self.raw.accept()?;
        Ok((Socket { raw }, peer))
    }

    /// `connect(address)`.
    ///
    /// # Errors
    /// [`Error::Denied`] when the host's connect rules refuse the address; `conn-refused`,
    /// [`Error::Timeout`], `in-progress` when non-blocking.
    pub fn connect(&self, address: impl ToSockAddress) -> Result<()> {
        Ok(self.raw.connect(&self.address(address)?)?)
    }

    /// `connect_ex(address)`: 0 on success, else this platform's errno (EAGAIN when the
    /// timeout expired, as in CPython).
    ///
    /// # Errors
    /// Only what is not an OS error: lookup failures and policy denials.
    pub fn connect_ex(&self, address: impl ToSockAddress) -> Result<i32> {
        let addr = self.address(address)?;
        Ok(self.raw.connect_ex(&addr)?.map_or(0, Errno::raw))
    }

    /// `send(data)`: how many bytes were sent.
    ///
    /// # Errors
    /// `again` when non-blocking and full, [`Error::Timeout`], `pipe`, `conn-reset`.
    pub fn send(&self, data: &[u8]) -> Result<usize> {
        self.send_with_flags(data, MsgFlags::empty())
    }

    /// `send(data, flags)`.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn send_with_flags(&self, data: &[u8], flags: MsgFlags) -> Result<usize> {
        Ok(self.raw.send(data, flags)? as usize)
    }

    /// `sendall(data)`: sends everything; the timeout bounds the whole call.
    ///
    /// # Errors
    /// As [`send`](Self::send); how much was sent before the error is unknown.
    pub fn sendall(&self, data: &[u8]) -> Result<()> {
        self.sendall_with_flags(data, MsgFlags::empty())
    }

    /// `sendall(data, flags)`.
    ///
    /// # Errors
    /// As [`sendall`](Self::sendall).
    pub fn sendall_with_flags(&self, data: &[u8], flags: MsgFlags) -> Result<()> {
        Ok(self.raw.sendall(data, flags)?)
    }

    /// `sendto(data, address)`.
    ///
    /// # Errors
    /// [`Error::Denied`] when the host's connect rules refuse the address; OS errors.
    pub fn sendto(&self, data: &[u8], address: impl ToSockAddress) -> Result<usize> {
        self.sendto_with_flags(data, MsgFlags::empty(), address)
    }

    /// `sendto(data, flags, address)`.
    ///
    /// # Errors
    /// As [`sendto`](Self::sendto).
    pub fn sendto_with_flags(
        &self,
        data: &[u8],
        flags: MsgFlags,
        address: impl ToSockAddress,
    ) -> Result<usize> {
        let addr = self.address(address)?;
        Ok(self.raw.sendto(data, flags, &addr)? as usize)
    }

    /// `recv(bufsize)`: up to `bufsize` bytes (the host may cap one read); empty at end of
    /// stream.
    ///
    /// # Errors
    /// `again` when non-blocking and empty, [`Error::Timeout`], `conn-reset`.
    pub fn recv(&self, bufsize: usize) -> Result<Vec<u8>> {
        self.recv_with_flags(bufsize, MsgFlags::empty())
    }

    /// `recv(bufsize, flags)` (`MsgFlags::PEEK`, `WAITALL`, `DONTWAIT`, `OOB`). `WAITALL`
    /// waits for `bufsize` bytes only on a blocking socket, as in CPython (with a timeout it
    /// returns what there is).
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn recv_with_flags(&self, bufsize: usize, flags: MsgFlags) -> Result<Vec<u8>> {
        Ok(self.raw.recv(bufsize as u64, flags)?)
    }

    /// `recv_into(buffer)`: reads into `buf`, returning how many bytes arrived.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn recv_into(&self, buf: &mut [u8]) -> Result<usize> {
        let data = self.recv(buf.len())?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok(n)
    }

    /// `recvfrom(bufsize)`: the data and the sender (`None` when the OS gives no address,
    /// as for a connected stream).
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn recvfrom(&self, bufsize: usize) -> Result<(Vec<u8>, Option<SockAddress>)> {
        self.recvfrom_with_flags(bufsize, MsgFlags::empty())
    }

    /// `recvfrom(bufsize, flags)`.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn recvfrom_with_flags(
        &self,
        bufsize: usize,
        flags: MsgFlags,
    ) -> Result<(Vec<u8>, Option<SockAddress>)> {
        Ok(self.raw.recvfrom(bufsize as u64, flags)?)
    }

    /// `shutdown(how)`.
    ///
    /// # Errors
    /// `not-conn` when not connected.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        let how = match how {
            Shutdown::Read => ShutdownHow::Read,
            Shutdown::Write => ShutdownHow::Write,
            Shutdown::Both => ShutdownHow::Both,
        };
        Ok(self.raw.shutdown(how)?)
    }

    /// `getsockname()`.
    ///
    /// # Errors
    /// `bad-descriptor` when closed.
    pub fn getsockname(&self) -> Result<SockAddress> {
        Ok(self.raw.getsockname()?)
    }

    /// `getpeername()`.
    ///
    /// # Errors
    /// `not-conn` when not connected.
    pub fn getpeername(&self) -> Result<SockAddress> {
        Ok(self.raw.getpeername()?)
    }

    /// `settimeout(t)`: `None` blocks, `Some(ZERO)` is non-blocking, `Some(t)` waits up to t.
    pub fn settimeout(&self, timeout: Option<Duration>) {
        self.raw.settimeout(timeout.map(ns));
    }

    /// `gettimeout()`.
    pub fn gettimeout(&self) -> Option<Duration> {
        self.raw.gettimeout().map(Duration::from_nanos)
    }

    /// `setblocking(flag)`: `settimeout(None)` or `settimeout(Some(ZERO))`.
    pub fn setblocking(&self, flag: bool) {
        self.raw.setblocking(flag);
    }

    /// `getblocking()`: false only for a timeout of zero.
    pub fn getblocking(&self) -> bool {
        self.raw.getblocking()
    }

    /// `family`.
    pub fn family(&self) -> AddressFamily {
        self.raw.family()
    }

    /// `type`.
    pub fn kind(&self) -> SocketKind {
        self.raw.kind()
    }

    /// `proto`.
    pub fn proto(&self) -> i32 {
        self.raw.proto()
    }

    /// `close()`: closes the socket; later calls fail with `bad-descriptor`. Closing twice
    /// is fine. Dropping the socket closes it too.
    ///
    /// # Errors
    /// None today; kept fallible as in socket.py.
    pub fn close(&self) -> Result<()> {
        Ok(self.raw.close()?)
    }

    /// `getsockopt(level, name)` for a typed option.
    ///
    /// # Errors
    /// `no-protocol-option` when the option does not apply to this socket.
    pub fn getsockopt(&self, name: SockoptName) -> Result<Sockopt> {
        Ok(self.raw.getsockopt(name)?)
    }

    /// `setsockopt(level, name, value)` for a typed option.
    ///
    /// # Errors
    /// `no-protocol-option` for read-only options or ones that do not apply.
    pub fn setsockopt(&self, value: Sockopt) -> Result<()> {
        Ok(self.raw.setsockopt(value)?)
    }

    fn address(&self, address: impl ToSockAddress) -> Result<SockAddress> {
        address.to_sock_address(self.family(), self.kind())
    }
}

/// Typed accessors for each option, named after socket2's, findable by the C name.
macro_rules! options {
    ($($(#[$doc:meta])* $alias:literal: $variant:ident($ty:ty) => $get:ident $(/ $set:ident)?;)*) => {
        impl Socket {
            $(
                $(#[$doc])*
                #[doc(alias = $alias)]
                ///
                /// # Errors
                /// `bad-descriptor` when closed; `no-protocol-option` when it does not apply to
                /// this socket.
                pub fn $get(&self) -> Result<$ty> {
                    match self.getsockopt(SockoptName::$variant)? {
                        Sockopt::$variant(v) => Ok(v),
                        _ => Err(Error::value("the host answered another option")),
                    }
                }

                $(
                    #[doc = concat!("Sets ", $alias, ".")]
                    #[doc(alias = $alias)]
                    ///
                    /// # Errors
                    /// `bad-descriptor` when closed; `no-protocol-option` when it does not
                    /// apply to this socket.
                    pub fn $set(&self, value: $ty) -> Result<()> {
                        self.setsockopt(Sockopt::$variant(value))
                    }
                )?
            )*
        }
    };
}

options! {
    /// SO_REUSEADDR.
    "SO_REUSEADDR": SoReuseaddr(bool) => reuse_address / set_reuse_address;
    /// SO_KEEPALIVE.
    "SO_KEEPALIVE": SoKeepalive(bool) => keepalive / set_keepalive;
    /// SO_RCVBUF, in bytes (Linux reports double what was set).
    "SO_RCVBUF": SoRcvbuf(u32) => recv_buffer_size / set_recv_buffer_size;
    /// SO_SNDBUF, in bytes (Linux reports double what was set).
    "SO_SNDBUF": SoSndbuf(u32) => send_buffer_size / set_send_buffer_size;
    /// SO_ERROR: takes the pending error, if any.
    "SO_ERROR": SoError(Option<Errno>) => take_error;
    /// SO_TYPE: the kind, as the OS reports it.
    "SO_TYPE": SoType(SocketKind) => socket_type;
    /// TCP_NODELAY.
    "TCP_NODELAY": TcpNodelay(bool) => tcp_nodelay / set_tcp_nodelay;
    /// IPV6_V6ONLY.
    "IPV6_V6ONLY": Ipv6V6only(bool) => only_v6 / set_only_v6;
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Read for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.recv_into(buf)?)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        (&*self).write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.send(buf)?)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Ok(self.sendall(buf)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Like socket.py's repr:
/// `<socket fd=1, family=AF_INET, type=SOCK_STREAM, proto=0, laddr=127.0.0.1:5000, raddr=...>`.
impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<socket fd={}, family={}, type={}, proto={}",
            self.fileno(),
            self.family(),
            self.kind(),
            self.proto()
        )?;
        match self.getsockname() {
            Ok(a) => write!(f, ", laddr={a}")?,
            Err(Error::Os {
                errno: Errno::BadDescriptor,
                ..
            }) => return f.write_str(" [closed]>"),
            Err(_) => {}
        }
        if let Ok(a) = self.getpeername() {
            write!(f, ", raddr={a}")?;
        }
        f.write_str(">")
    }
}

/// `socket.getdefaulttimeout()`: the timeout new sockets start with (per instance).
pub fn getdefaulttimeout() -> Option<Duration> {
    wit::getdefaulttimeout().map(Duration::from_nanos)
}

/// `socket.setdefaulttimeout(t)`.
pub fn setdefaulttimeout(timeout: Option<Duration>) {
    wit::setdefaulttimeout(timeout.map(ns));
}

/// The sockets the host opened for this guest before it started, each with its name: for
/// `sockbox run --listen 127.0.0.1:8080`, a listening socket named `127.0.0.1:8080` (the
/// bound address). Each call returns fresh handles to the same OS sockets.
///
/// # Errors
/// `too-many-open` when the handles would pass the instance's socket limit.
pub fn preopened_sockets() -> Result<Vec<(Socket, String)>> {
    Ok(preopens::get_sockets()?
        .into_iter()
        .map(|(raw, name)| (Socket { raw }, name))
        .collect())
}

/// The C name: `AF_INET`; an unnamed family shows its number.
impl fmt::Display for AddressFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressFamily::Unspec => f.write_str("AF_UNSPEC"),
            AddressFamily::Inet => f.write_str("AF_INET"),
            AddressFamily::Inet6 => f.write_str("AF_INET6"),
            AddressFamily::Unix => f.write_str("AF_UNIX"),
            AddressFamily::Other(n) => write!(f, "{n}"),
        }
    }
}

/// The C name: `SOCK_STREAM`; an unnamed kind shows its number.
impl fmt::Display for SocketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketKind::Stream => f.write_str("SOCK_STREAM"),
            SocketKind::Dgram => f.write_str("SOCK_DGRAM"),
            SocketKind::Seqpacket => f.write_str("SOCK_SEQPACKET"),
            SocketKind::Raw => f.write_str("SOCK_RAW"),
            SocketKind::Other(n) => write!(f, "{n}"),
        }
    }
}
