//! [`Socket`]: `socket.socket`.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown};
use std::time::Duration;

use crate::bindings::sockbox::socket::preopens;
use crate::bindings::sockbox::socket::socket::{
    self as wit, Ipv4Membership, Ipv6Membership, Message, PeerCredentials, Sockopt, SockoptName,
};
use crate::bindings::sockbox::socket::types::ShutdownHow;
use crate::{
    AddressFamily, Ancillary, Errno, Error, Fd, FdsMessage, MsgFlags, Result, SockAddress,
    SocketKind, ToSockAddress,
};

/// A socket, served by the host: Python's `socket.socket`.
///
/// Dropping it closes it. Its blocking mode and timeout work as in socket.py:
/// [`settimeout(None)`](Self::settimeout) blocks, `Some(ZERO)` never waits (a call that would
/// wait fails with `again`, Python's `BlockingIOError`), `Some(t)` waits up to `t` and then
/// fails with [`Error::Timeout`].
pub struct Socket {
    raw: wit::Socket,
    /// `close()` was called: the handle stays valid, the OS socket is gone (for this object).
    closed: Cell<bool>,
}

pub(crate) fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

thread_local! {
    /// Handle numbers of the sockets a `Socket` owns now (what `fileno` returns).
    static LIVE: RefCell<HashSet<u32>> = RefCell::new(HashSet::new());
    /// Handle numbers given away by `detach`, waiting for `Socket::from_fd`.
    static DETACHED: RefCell<HashSet<u32>> = RefCell::new(HashSet::new());
}

impl Drop for Socket {
    fn drop(&mut self) {
        let h = self.raw.handle();
        LIVE.with(|l| l.borrow_mut().remove(&h));
    }
}

fn bad_fd() -> Error {
    Error::Os {
        errno: Errno::BadDescriptor,
        message: "Bad file descriptor".into(),
    }
}

impl Socket {
    /// `socket.socket(family, type, proto)`; it starts with the default timeout.
    ///
    /// # Errors
    /// `address-family-not-supported`, `socket-type-not-supported` or
    /// `protocol-not-supported` for what the host does not serve; `permission` for raw
    /// sockets.
    pub fn new(family: AddressFamily, kind: SocketKind, proto: i32) -> Result<Socket> {
        Ok(Socket::from_raw(wit::Socket::create(family, kind, proto)?))
    }

    pub(crate) fn from_raw(raw: wit::Socket) -> Socket {
        LIVE.with(|l| l.borrow_mut().insert(raw.handle()));
        Socket {
            raw,
            closed: Cell::new(false),
        }
    }

    pub(crate) fn raw(&self) -> &wit::Socket {
        &self.raw
    }

    /// `fileno()`: the guest-side number of this socket (its component handle), never a host
    /// fd. -1 once the socket is closed, as in socket.py.
    pub fn fileno(&self) -> i32 {
        if self.closed.get() {
            -1
        } else {
            self.raw.handle() as i32
        }
    }

    /// `detach()`: gives up this object without closing the socket and returns its number,
    /// for [`Socket::from_fd`] (socket.py's `socket(fileno=n)`).
    pub fn detach(self) -> i32 {
        let h = self.raw.handle();
        LIVE.with(|l| l.borrow_mut().remove(&h));
        DETACHED.with(|d| d.borrow_mut().insert(h));
        // The handle now belongs to the detached set, not to this object.
        let h = self.raw.take_handle();
        std::mem::forget(self);
        h as i32
    }

    /// `socket.socket(fileno=n)`: takes back a socket given away by [`detach`](Self::detach).
    ///
    /// # Errors
    /// `bad-descriptor` for a number that is not a detached socket.
    pub fn from_fd(fd: i32) -> Result<Socket> {
        let h = u32::try_from(fd).map_err(|_| bad_fd())?;
        if !DETACHED.with(|d| d.borrow_mut().remove(&h)) {
            return Err(bad_fd());
        }
        // SAFETY: `h` is a socket handle this instance owns: detach took it out of a Socket
        // and nothing else has used it since.
        let sock = Socket::from_raw(unsafe { wit::Socket::from_handle(h) });
        // A new socket object starts at the default timeout, as in CPython.
        sock.settimeout(getdefaulttimeout());
        Ok(sock)
    }

    /// `dup()`: a new socket on a duplicate of the OS socket, with the same timeout.
    ///
    /// # Errors
    /// `bad-descriptor` when closed; `too-many-open` past the host's limit.
    pub fn dup(&self) -> Result<Socket> {
        Ok(Socket::from_raw(self.raw.dup()?))
    }

    /// `get_inheritable()`: a flag kept for the guest (host descriptors are close-on-exec).
    ///
    /// # Errors
    /// `bad-descriptor` when closed.
    pub fn get_inheritable(&self) -> Result<bool> {
        Ok(self.raw.get_inheritable()?)
    }

    /// `set_inheritable(flag)`.
    ///
    /// # Errors
    /// `bad-descriptor` when closed.
    pub fn set_inheritable(&self, inheritable: bool) -> Result<()> {
        Ok(self.raw.set_inheritable(inheritable)?)
    }

    /// `bind(address)`.
    ///
    /// # Errors
    /// [`Error::Denied`] when the host's bind rules refuse the address; `addr-in-use`,
    /// `addr-not-available` from the OS.
    pub fn bind(&self, address: impl ToSockAddress) -> Result<()> {
        Ok(self.raw.bind(&self.address(address)?)?)
    }

    /// `listen(backlog)`; `None` is socket.py's default, `min(SOMAXCONN, 128)`.
    ///
    /// # Errors
    /// `bad-descriptor` when closed; OS errors.
    pub fn listen(&self, backlog: impl Into<Option<i32>>) -> Result<()> {
        let backlog = backlog.into().unwrap_or(crate::consts::SOMAXCONN.min(128));
        Ok(self.raw.listen(backlog)?)
    }

    /// `accept()`: the connection and the peer's address.
    ///
    /// # Errors
    /// [`Error::Timeout`], `again` when non-blocking, `canceled` when the host interrupts the instance.
    pub fn accept(&self) -> Result<(Socket, SockAddress)> {
        let (raw, peer) = self.raw.accept()?;
        Ok((Socket::from_raw(raw), peer))
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

    /// `recv_into(buffer)`: reads into `buf`, returning how many bytes arrived. The bytes
    /// arrive as [`recv`](Self::recv)'s and are copied into `buf` (a WIT result cannot be
    /// written into a caller's buffer): for large reads, `recv` is the cheaper call.
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

    /// `recvfrom_into(buffer)`: reads into `buf`; how many bytes and the sender.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn recvfrom_into(&self, buf: &mut [u8]) -> Result<(usize, Option<SockAddress>)> {
        let (data, from) = self.recvfrom(buf.len())?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok((n, from))
    }

    /// `sendmsg(buffers, [], flags, address)`: sends the buffers in one call (gathered);
    /// `address` for an unconnected datagram socket.
    ///
    /// # Errors
    /// [`Error::Denied`] when the host's connect rules refuse the address; as
    /// [`send`](Self::send).
    pub fn sendmsg(
        &self,
        buffers: &[&[u8]],
        flags: MsgFlags,
        address: Option<SockAddress>,
    ) -> Result<usize> {
        let owned: Vec<Vec<u8>> = buffers.iter().map(|b| b.to_vec()).collect();
        Ok(self.raw.sendmsg(&owned, flags, address.as_ref())? as usize)
    }

    /// `recvmsg(bufsize, 0, flags)`: the data, the flags the OS set (`TRUNC`, `EOR`, `OOB`)
    /// and the sender.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn recvmsg(&self, bufsize: usize, flags: MsgFlags) -> Result<Message> {
        Ok(self.raw.recvmsg(bufsize as u64, flags)?)
    }

    /// `recvmsg_into(buffers, 0, flags)`: the data scattered over `buffers` in order; the
    /// number of bytes, the flags the OS set and the sender.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn recvmsg_into(
        &self,
        buffers: &mut [&mut [u8]],
        flags: MsgFlags,
    ) -> Result<(usize, MsgFlags, Option<SockAddress>)> {
        let total = buffers.iter().map(|b| b.len()).sum();
        let message = self.recvmsg(total, flags)?;
        let mut rest = &message.data[..];
        for buffer in buffers.iter_mut() {
            let n = rest.len().min(buffer.len());
            buffer[..n].copy_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        Ok((message.data.len(), message.flags, message.address))
    }

    /// `sendmsg(buffers, ancdata, flags, address)` with ancillary data: the descriptors of
    /// every [`Ancillary::Rights`] go in one SCM_RIGHTS message (over a Unix-domain socket).
    ///
    /// # Errors
    /// As [`sendmsg`](Self::sendmsg) and [`send_fds`](crate::send_fds).
    pub fn sendmsg_ancillary(
        &self,
        buffers: &[&[u8]],
        ancdata: &[Ancillary<'_>],
        flags: MsgFlags,
        address: Option<SockAddress>,
    ) -> Result<usize> {
        let fds: Vec<Fd<'_>> = ancdata
            .iter()
            .flat_map(|a| match a {
                Ancillary::Rights(fds) => fds.iter().copied(),
            })
            .collect();
        if fds.is_empty() {
            return self.sendmsg(buffers, flags, address);
        }
        crate::send_fds(self, buffers, &fds, flags, address)
    }

    /// `recvmsg(bufsize, ancbufsize, flags)`: with room for `ancbufsize` bytes of ancillary
    /// data, as many descriptors as fit after [`CMSG_LEN(0)`](crate::consts::CMSG_LEN) are
    /// received (SCM_RIGHTS); more set `MSG_CTRUNC`, as in CPython.
    ///
    /// # Errors
    /// As [`recv_fds`](crate::recv_fds) when there is room for descriptors, else as
    /// [`recvmsg`](Self::recvmsg).
    pub fn recvmsg_ancillary(
        &self,
        bufsize: usize,
        ancbufsize: usize,
        flags: MsgFlags,
    ) -> Result<FdsMessage> {
        let room = ancbufsize.saturating_sub(crate::consts::CMSG_LEN(0)?);
        let maxfds = u32::try_from(room / 4).unwrap_or(u32::MAX);
        if maxfds == 0 {
            let m = self.recvmsg(bufsize, flags)?;
            return Ok(FdsMessage {
                data: m.data,
                fds: Vec::new(),
                flags: m.flags,
                address: m.address,
            });
        }
        crate::recv_fds(self, bufsize, maxfds, flags)
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

    /// `settimeout(seconds)` with socket.py's float: `None` blocks, `0.0` is non-blocking.
    ///
    /// # Errors
    /// A `ValueError` for a negative, NaN or too large value, as CPython raises.
    pub fn settimeout_secs(&self, seconds: Option<f64>) -> Result<()> {
        self.settimeout(timeout_from_secs(seconds)?);
        Ok(())
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
        self.closed.set(true);
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

    /// `setsockopt(level, name, value)` with C's numbers ([`consts::sockopt`](crate::consts::sockopt))
    /// and C's bytes: an `int` as 4 native-endian bytes, `struct linger`, `ip_mreq`,
    /// `ipv6_mreq`.
    ///
    /// # Errors
    /// `no-protocol-option` for an option sockbox does not list; `permission` for one that
    /// reaches past the sandbox (SO_BINDTODEVICE, SO_MARK, IP_TRANSPARENT, ...); `invalid` for
    /// bytes of the wrong size.
    pub fn setsockopt_raw(&self, level: i32, name: i32, value: &[u8]) -> Result<()> {
        Ok(self.raw.setsockopt_raw(level, name, value)?)
    }

    /// `getsockopt(level, name, buflen)` with C's numbers: the option's C bytes, at most
    /// `buflen` of them (4 for an `int`).
    ///
    /// # Errors
    /// As [`setsockopt_raw`](Self::setsockopt_raw).
    pub fn getsockopt_raw(&self, level: i32, name: i32, buflen: u32) -> Result<Vec<u8>> {
        Ok(self.raw.getsockopt_raw(level, name, buflen)?)
    }

    fn address(&self, address: impl ToSockAddress) -> Result<SockAddress> {
        address.to_sock_address(self.family(), self.kind())
    }
}

/// A socket.py timeout in seconds as a [`Duration`] (`None` stays `None`).
///
/// # Errors
/// A `ValueError` for NaN ("Invalid value NaN (not a number)"), a negative value ("Timeout
/// value out of range") or one too large to represent.
pub fn timeout_from_secs(seconds: Option<f64>) -> Result<Option<Duration>> {
    let Some(secs) = seconds else {
        return Ok(None);
    };
    if secs.is_nan() {
        return Err(Error::value("Invalid value NaN (not a number)"));
    }
    if secs < 0.0 {
        return Err(Error::value("Timeout value out of range"));
    }
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| d.as_nanos() < u128::from(u64::MAX))
        .map(Some)
        .ok_or_else(|| Error::value("timeout too large to convert to a duration"))
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
    /// SO_REUSEPORT.
    "SO_REUSEPORT": SoReuseport(bool) => reuse_port / set_reuse_port;
    /// SO_KEEPALIVE.
    "SO_KEEPALIVE": SoKeepalive(bool) => keepalive / set_keepalive;
    /// SO_BROADCAST.
    "SO_BROADCAST": SoBroadcast(bool) => broadcast / set_broadcast;
    /// SO_LINGER, in seconds (`None`: off).
    "SO_LINGER": SoLinger(Option<u32>) => linger / set_linger;
    /// SO_RCVBUF, in bytes (Linux reports double what was set).
    "SO_RCVBUF": SoRcvbuf(u32) => recv_buffer_size / set_recv_buffer_size;
    /// SO_SNDBUF, in bytes (Linux reports double what was set).
    "SO_SNDBUF": SoSndbuf(u32) => send_buffer_size / set_send_buffer_size;
    /// SO_RCVLOWAT, in bytes.
    "SO_RCVLOWAT": SoRcvlowat(u32) => recv_lowat / set_recv_lowat;
    /// SO_ERROR: takes the pending error, if any.
    "SO_ERROR": SoError(Option<Errno>) => take_error;
    /// SO_TYPE: the kind, as the OS reports it.
    "SO_TYPE": SoType(SocketKind) => socket_type;
    /// SO_PEERCRED: the peer process of a Unix-domain socket.
    "SO_PEERCRED": SoPeercred(PeerCredentials) => peer_credentials;
    /// SO_ACCEPTCONN: whether the socket listens.
    "SO_ACCEPTCONN": SoAcceptconn(bool) => accepts_connections;
    /// SO_DOMAIN: the address family, as the OS reports it.
    "SO_DOMAIN": SoDomain(AddressFamily) => domain;
    /// SO_PROTOCOL: the protocol number, as the OS reports it.
    "SO_PROTOCOL": SoProtocol(i32) => protocol;
    /// TCP_NODELAY.
    "TCP_NODELAY": TcpNodelay(bool) => tcp_nodelay / set_tcp_nodelay;
    /// TCP_CORK.
    "TCP_CORK": TcpCork(bool) => tcp_cork / set_tcp_cork;
    /// TCP_QUICKACK.
    "TCP_QUICKACK": TcpQuickack(bool) => tcp_quickack / set_tcp_quickack;
    /// TCP_KEEPIDLE, seconds.
    "TCP_KEEPIDLE": TcpKeepidle(u32) => tcp_keepidle / set_tcp_keepidle;
    /// TCP_KEEPINTVL, seconds.
    "TCP_KEEPINTVL": TcpKeepintvl(u32) => tcp_keepintvl / set_tcp_keepintvl;
    /// TCP_KEEPCNT.
    "TCP_KEEPCNT": TcpKeepcnt(u32) => tcp_keepcnt / set_tcp_keepcnt;
    /// TCP_USER_TIMEOUT, milliseconds (0: the OS default).
    "TCP_USER_TIMEOUT": TcpUserTimeoutMs(u32) => tcp_user_timeout_ms / set_tcp_user_timeout_ms;
    /// IP_TTL.
    "IP_TTL": IpTtl(u32) => ttl / set_ttl;
    /// IP_MULTICAST_TTL.
    "IP_MULTICAST_TTL": IpMulticastTtl(u32) => multicast_ttl_v4 / set_multicast_ttl_v4;
    /// IP_MULTICAST_LOOP.
    "IP_MULTICAST_LOOP": IpMulticastLoop(bool) => multicast_loop_v4 / set_multicast_loop_v4;
    /// IPV6_V6ONLY.
    "IPV6_V6ONLY": Ipv6V6only(bool) => only_v6 / set_only_v6;
    /// IPV6_UNICAST_HOPS: the hop limit.
    "IPV6_UNICAST_HOPS": Ipv6UnicastHops(u32) => unicast_hops_v6 / set_unicast_hops_v6;
    /// IPV6_MULTICAST_HOPS.
    "IPV6_MULTICAST_HOPS": Ipv6MulticastHops(u32) => multicast_hops_v6 / set_multicast_hops_v6;
    /// IPV6_MULTICAST_LOOP.
    "IPV6_MULTICAST_LOOP": Ipv6MulticastLoop(bool) => multicast_loop_v6 / set_multicast_loop_v6;
}

impl Socket {
    /// IP_ADD_MEMBERSHIP: joins an IPv4 multicast group on `interface` (0.0.0.0: any).
    ///
    /// # Errors
    /// [`Error::Denied`] unless a host bind rule covers the group; OS errors.
    #[doc(alias = "IP_ADD_MEMBERSHIP")]
    pub fn join_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> Result<()> {
        self.setsockopt(Sockopt::IpAddMembership(v4_membership(group, interface)))
    }

    /// IP_DROP_MEMBERSHIP.
    ///
    /// # Errors
    /// OS errors (not a member, say).
    #[doc(alias = "IP_DROP_MEMBERSHIP")]
    pub fn leave_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> Result<()> {
        self.setsockopt(Sockopt::IpDropMembership(v4_membership(group, interface)))
    }

    /// IPV6_JOIN_GROUP: joins an IPv6 multicast group on interface index `interface`.
    ///
    /// # Errors
    /// [`Error::Denied`] unless a host bind rule covers the group; OS errors.
    #[doc(alias = "IPV6_JOIN_GROUP")]
    pub fn join_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> Result<()> {
        self.setsockopt(Sockopt::Ipv6JoinGroup(v6_membership(group, interface)))
    }

    /// IPV6_LEAVE_GROUP.
    ///
    /// # Errors
    /// OS errors (not a member, say).
    #[doc(alias = "IPV6_LEAVE_GROUP")]
    pub fn leave_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> Result<()> {
        self.setsockopt(Sockopt::Ipv6LeaveGroup(v6_membership(group, interface)))
    }
}

fn v4_membership(group: Ipv4Addr, interface: Ipv4Addr) -> Ipv4Membership {
    let [a, b, c, d] = group.octets();
    let [e, f, g, h] = interface.octets();
    Ipv4Membership {
        group: (a, b, c, d),
        interface: (e, f, g, h),
    }
}

fn v6_membership(group: Ipv6Addr, interface: u32) -> Ipv6Membership {
    let [a, b, c, d, e, f, g, h] = group.segments();
    Ipv6Membership {
        group: (a, b, c, d, e, f, g, h),
        interface,
    }
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
        .map(|(raw, name)| (Socket::from_raw(raw), name))
        .collect())
}

/// A `wasi:sockets` TCP socket and, when connected, its streams (see [`Socket::to_wasi_tcp`]).
pub type WasiTcp = (
    wasi::sockets::tcp::TcpSocket,
    Option<(
        wasi::io::streams::InputStream,
        wasi::io::streams::OutputStream,
    )>,
);

impl Socket {
    /// A sockbox socket on the OS socket of a `wasi:sockets` TCP socket (made by wasi:sockets
    /// code, a runtime or a library), in the state it is in: options, `send_fds`, `sendfile`
    /// and the rest of this API on a socket the WASI code still uses. A new handle (a
    /// duplicate descriptor): it has its own timeout (the default) and closes on its own.
    ///
    /// # Errors
    /// `bad-descriptor` for a socket whose connect failed; `too-many-open` past the socket
    /// limit. Only hosts that serve wasi:sockets themselves (`sockbox run`) have this call.
    pub fn from_wasi_tcp(s: &wasi::sockets::tcp::TcpSocket) -> Result<Socket> {
        Ok(Socket::from_raw(
            crate::bindings::sockbox::socket::wasi_bridge::from_wasi_tcp(s)?,
        ))
    }

    /// [`from_wasi_tcp`](Self::from_wasi_tcp) for a `wasi:sockets` UDP socket.
    ///
    /// # Errors
    /// As [`from_wasi_tcp`](Self::from_wasi_tcp).
    pub fn from_wasi_udp(s: &wasi::sockets::udp::UdpSocket) -> Result<Socket> {
        Ok(Socket::from_raw(
            crate::bindings::sockbox::socket::wasi_bridge::from_wasi_udp(s)?,
        ))
    }

    /// A `wasi:sockets` TCP socket on this socket's OS socket, in the state it is in (a
    /// preopened listener handed to code written for wasi:sockets, say); a connected one
    /// comes with its streams.
    ///
    /// # Errors
    /// `invalid` for a socket that is not TCP over IP; `too-many-open` past the socket limit.
    pub fn to_wasi_tcp(&self) -> Result<WasiTcp> {
        Ok(crate::bindings::sockbox::socket::wasi_bridge::to_wasi_tcp(
            self.raw(),
        )?)
    }

    /// A `wasi:sockets` UDP socket on this socket's OS socket, bound or not, with the peer it
    /// is connected to.
    ///
    /// # Errors
    /// `invalid` for a socket that is not UDP over IP; `too-many-open` past the socket limit.
    pub fn to_wasi_udp(&self) -> Result<wasi::sockets::udp::UdpSocket> {
        Ok(crate::bindings::sockbox::socket::wasi_bridge::to_wasi_udp(
            self.raw(),
        )?)
    }
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

/// `socket.fromfd(fd)`: a new socket on a duplicate of the socket numbered `fd` (a
/// [`Socket::fileno`] this guest holds, or a detached one).
///
/// # Errors
/// `bad-descriptor` for a number that is no socket of this guest.
pub fn fromfd(fd: i32) -> Result<Socket> {
    let h = u32::try_from(fd).map_err(|_| bad_fd())?;
    let known =
        LIVE.with(|l| l.borrow().contains(&h)) || DETACHED.with(|d| d.borrow().contains(&h));
    if !known {
        return Err(bad_fd());
    }
    // SAFETY: `h` is a socket handle this instance holds (registered above); it is only
    // borrowed for the dup, and ManuallyDrop keeps this copy from dropping it.
    let borrowed = std::mem::ManuallyDrop::new(unsafe { wit::Socket::from_handle(h) });
    let sock = Socket::from_raw(borrowed.dup()?);
    // A new socket object starts at the default timeout, as CPython's fromfd gives it.
    sock.settimeout(getdefaulttimeout());
    Ok(sock)
}

/// `socket.dup(fd)`: a new number for a duplicate of a socket given away by
/// [`Socket::detach`].
///
/// # Errors
/// `bad-descriptor` for a number that is not a detached socket; as [`Socket::dup`].
pub fn dup(fd: i32) -> Result<i32> {
    let sock = Socket::from_fd(fd)?;
    let copy = sock.dup();
    let _ = sock.detach();
    Ok(copy?.detach())
}

/// `socket.close(fd)`: closes a socket given away by [`Socket::detach`].
///
/// # Errors
/// `bad-descriptor` for a number that is not a detached socket.
pub fn close(fd: i32) -> Result<()> {
    drop(Socket::from_fd(fd)?);
    Ok(())
}
