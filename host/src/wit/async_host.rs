//! `add_to_linker_async`: the same host for tokio embedders, where one thread serves many
//! guests. A call that would block suspends the guest (its fiber) on the socket's readiness
//! instead of blocking the thread.
//!
//! These are bindings of their own, generated with bindgen's per-function `async`: the calls
//! that may wait await the core's operations with [`Waiter::Async`] (the synchronous host runs
//! the very same operations with [`Waiter::Sync`]); the calls that never wait are the
//! synchronous host's. The value types are shared (`crate::core::types`), as are the resources.

use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::DynPollable;

use crate::bindings::sockbox::socket::helpers as sync_helpers;
use crate::bindings::sockbox::socket::netdb as sync_netdb;
use crate::bindings::sockbox::socket::socket as sync;
use crate::core::ctx::{SocketCtxView, SocketView};
use crate::core::error::SocketError;
use crate::core::ops::fds::ReceivedFd;
use crate::core::ops::io::SocketIo;
use crate::core::ops::socket::{Socket, connect_ex_result};
use crate::core::ops::tls::{TlsEngine, TlsSocket};
use crate::core::types::{
    AddrInfo, AddrInfoFlags, AddressFamily, ConnectionFailure, Errno, HostEntry, Interest, Message,
    MsgFlags, NameInfoFlags, ShutdownHow, SockAddress, SocketKind, Sockopt, SockoptName,
    TimeoutSetting,
};
use crate::core::types::{ClientOptions, ServerOptions};
use crate::core::wait::Waiter;
use crate::wit::bindings::sockbox::socket::tls;

use generated::sockbox::socket::socket::{FdToSend, FdsMessage};

type Result<T, E = SocketError> = std::result::Result<T, E>;

mod generated {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "sockbox:socket/imports",
        imports: {
            "sockbox:socket/socket.[method]socket.accept": async | trappable,
            "sockbox:socket/socket.[method]socket.connect": async | trappable,
            "sockbox:socket/socket.[method]socket.connect-ex": async | trappable,
            "sockbox:socket/socket.[method]socket.sendto": async | trappable,
            "sockbox:socket/socket.[method]socket.recvfrom": async | trappable,
            "sockbox:socket/socket.[method]socket.sendmsg": async | trappable,
            "sockbox:socket/socket.[method]socket.recvmsg": async | trappable,
            "sockbox:socket/socket.[method]socket.send-fds": async | trappable,
            "sockbox:socket/socket.[method]socket.recv-fds": async | trappable,
            "sockbox:socket/socket.[method]socket.sendfile": async | trappable,
            "sockbox:socket/socket.[method]socket-io.read": async | trappable,
            "sockbox:socket/socket.[method]socket-io.write": async | trappable,
            "sockbox:socket/netdb.getaddrinfo": async | trappable,
            "sockbox:socket/netdb.getnameinfo": async | trappable,
            "sockbox:socket/netdb.gethostbyname": async | trappable,
            "sockbox:socket/netdb.gethostbyname-ex": async | trappable,
            "sockbox:socket/netdb.gethostbyaddr": async | trappable,
            "sockbox:socket/helpers.create-connection": async | trappable,
            "sockbox:socket/tls.[static]tls-socket.connect": async | trappable,
            "sockbox:socket/tls.[static]tls-socket.accept": async | trappable,
            "sockbox:socket/tls.[method]tls-socket.handshake": async | trappable,
            "sockbox:socket/tls.[method]tls-socket.send": async | trappable,
            "sockbox:socket/tls.[method]tls-socket.sendall": async | trappable,
            "sockbox:socket/tls.[method]tls-socket.recv": async | trappable,
            "sockbox:socket/tls.[static]tls-socket.unwrap": async | trappable,
            default: trappable,
        },
        with: {
            "wasi": wasmtime_wasi::p2::bindings,
            "sockbox:socket/types": crate::core::types,
            "sockbox:socket/preopens": crate::bindings::sockbox::socket::preopens,
            "sockbox:socket/socket.socket": crate::core::ops::socket::Socket,
            "sockbox:socket/socket.socket-io": crate::core::ops::io::SocketIo,
            "sockbox:socket/socket.received-fd": crate::core::ops::fds::ReceivedFd,
            "sockbox:socket/tls.tls-socket": crate::core::ops::tls::TlsSocket,
            "sockbox:socket/tls.tls-engine": crate::core::ops::tls::TlsEngine,
        },
        trappable_error_type: {
            "sockbox:socket/types.error" => crate::core::error::SocketError,
        },
        require_store_data_send: true,
    });
}

/// Adds every `sockbox:socket` interface to `linker`, for async embeddings: guests
/// instantiated and run with the `_async` calls, in a tokio runtime with IO and time enabled.
/// One thread can then serve many guests.
///
/// Link wasi first (`wasmtime_wasi::p2::add_to_linker_async`). Every lookup of a name runs on
/// a thread of its own while the guest is suspended (see [`crate::resolver`]).
pub fn add_to_linker_async<T: SocketView + Send + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    use crate::bindings::sockbox::socket as shared;
    use generated::sockbox::socket as own;
    crate::core::types::add_to_linker::<T, crate::wit::HasSockets>(linker, T::socket_ctx)?;
    shared::preopens::add_to_linker::<T, crate::wit::HasSockets>(linker, T::socket_ctx)?;
    own::socket::add_to_linker::<T, crate::wit::HasSockets>(linker, T::socket_ctx)?;
    own::helpers::add_to_linker::<T, crate::wit::HasSockets>(linker, T::socket_ctx)?;
    own::netdb::add_to_linker::<T, crate::wit::HasSockets>(linker, T::socket_ctx)?;
    own::tls::add_to_linker::<T, crate::wit::HasSockets>(linker, T::socket_ctx)?;
    crate::wit::fast::add_to_linker_async(linker)
}

impl From<FdToSend> for crate::core::ops::fds::FdToSend {
    fn from(fd: FdToSend) -> Self {
        match fd {
            FdToSend::Socket(s) => Self::Socket(s),
            FdToSend::File(f) => Self::File(f),
            FdToSend::Received(r) => Self::Received(r),
        }
    }
}

impl generated::sockbox::socket::socket::HostSocket for SocketCtxView<'_> {
    async fn accept(&mut self, s: Resource<Socket>) -> Result<(Resource<Socket>, SockAddress)> {
        self.accept_with(Waiter::Async, s).await
    }

    async fn connect(&mut self, s: Resource<Socket>, address: SockAddress) -> Result<()> {
        self.connect_with(Waiter::Async, s, address).await
    }

    async fn connect_ex(
        &mut self,
        s: Resource<Socket>,
        address: SockAddress,
    ) -> Result<Option<Errno>> {
        connect_ex_result(self.connect_with(Waiter::Async, s, address).await)
    }

    async fn sendto(
        &mut self,
        s: Resource<Socket>,
        data: Vec<u8>,
        flags: MsgFlags,
        address: SockAddress,
    ) -> Result<u64> {
        self.sendto_with(Waiter::Async, s, data, flags, address)
            .await
    }

    async fn recvfrom(
        &mut self,
        s: Resource<Socket>,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<(Vec<u8>, Option<SockAddress>)> {
        let m = self.recvmsg_with(Waiter::Async, s, bufsize, flags).await?;
        Ok((m.data, m.address))
    }

    async fn sendmsg(
        &mut self,
        s: Resource<Socket>,
        buffers: Vec<Vec<u8>>,
        flags: MsgFlags,
        address: Option<SockAddress>,
    ) -> Result<u64> {
        self.sendmsg_with(Waiter::Async, s, buffers, flags, address)
            .await
    }

    async fn recvmsg(
        &mut self,
        s: Resource<Socket>,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<Message> {
        self.recvmsg_with(Waiter::Async, s, bufsize, flags).await
    }

    async fn send_fds(
        &mut self,
        s: Resource<Socket>,
        buffers: Vec<Vec<u8>>,
        fds: Vec<FdToSend>,
        flags: MsgFlags,
        address: Option<SockAddress>,
    ) -> Result<u64> {
        let fds: Vec<_> = fds
            .into_iter()
            .map(crate::core::ops::fds::FdToSend::from)
            .collect();
        SocketCtxView::send_fds(
            self,
            Waiter::Async,
            &s,
            &buffers,
            &fds,
            flags,
            address.as_ref(),
        )
        .await
    }

    async fn recv_fds(
        &mut self,
        s: Resource<Socket>,
        bufsize: u64,
        maxfds: u32,
        flags: MsgFlags,
    ) -> Result<FdsMessage> {
        let m = SocketCtxView::recv_fds(self, Waiter::Async, &s, bufsize, maxfds, flags).await?;
        Ok(FdsMessage {
            data: m.data,
            fds: m.fds,
            flags: m.flags,
            address: m.address,
        })
    }

    async fn sendfile(
        &mut self,
        s: Resource<Socket>,
        file: Resource<Descriptor>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64> {
        SocketCtxView::sendfile(self, Waiter::Async, &s, &file, offset, count).await
    }

    fn create(
        &mut self,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
    ) -> Result<Resource<Socket>> {
        sync::HostSocket::create(self, family, kind, proto)
    }

    fn bind(&mut self, s: Resource<Socket>, address: SockAddress) -> Result<()> {
        sync::HostSocket::bind(self, s, address)
    }

    fn listen(&mut self, s: Resource<Socket>, backlog: i32) -> Result<()> {
        sync::HostSocket::listen(self, s, backlog)
    }

    fn send(&mut self, s: Resource<Socket>, data: Vec<u8>, flags: MsgFlags) -> Result<u64> {
        sync::HostSocket::send(self, s, data, flags)
    }

    fn sendall(&mut self, s: Resource<Socket>, data: Vec<u8>, flags: MsgFlags) -> Result<()> {
        sync::HostSocket::sendall(self, s, data, flags)
    }

    fn recv(&mut self, s: Resource<Socket>, bufsize: u64, flags: MsgFlags) -> Result<Vec<u8>> {
        sync::HostSocket::recv(self, s, bufsize, flags)
    }

    fn shutdown(&mut self, s: Resource<Socket>, how: ShutdownHow) -> Result<()> {
        sync::HostSocket::shutdown(self, s, how)
    }

    fn getsockname(&mut self, s: Resource<Socket>) -> Result<SockAddress> {
        sync::HostSocket::getsockname(self, s)
    }

    fn getpeername(&mut self, s: Resource<Socket>) -> Result<SockAddress> {
        sync::HostSocket::getpeername(self, s)
    }

    fn getsockopt(&mut self, s: Resource<Socket>, name: SockoptName) -> Result<Sockopt> {
        sync::HostSocket::getsockopt(self, s, name)
    }

    fn setsockopt(&mut self, s: Resource<Socket>, value: Sockopt) -> Result<()> {
        sync::HostSocket::setsockopt(self, s, value)
    }

    fn setsockopt_raw(
        &mut self,
        s: Resource<Socket>,
        level: i32,
        option: i32,
        value: Vec<u8>,
    ) -> Result<()> {
        sync::HostSocket::setsockopt_raw(self, s, level, option, value)
    }

    fn getsockopt_raw(
        &mut self,
        s: Resource<Socket>,
        level: i32,
        option: i32,
        buflen: u32,
    ) -> Result<Vec<u8>> {
        sync::HostSocket::getsockopt_raw(self, s, level, option, buflen)
    }

    fn subscribe(
        &mut self,
        s: Resource<Socket>,
        interest: Interest,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        sync::HostSocket::subscribe(self, s, interest)
    }

    fn settimeout(&mut self, s: Resource<Socket>, timeout: Option<u64>) -> wasmtime::Result<()> {
        sync::HostSocket::settimeout(self, s, timeout)
    }

    fn gettimeout(&mut self, s: Resource<Socket>) -> wasmtime::Result<Option<u64>> {
        sync::HostSocket::gettimeout(self, s)
    }

    fn setblocking(&mut self, s: Resource<Socket>, flag: bool) -> wasmtime::Result<()> {
        sync::HostSocket::setblocking(self, s, flag)
    }

    fn getblocking(&mut self, s: Resource<Socket>) -> wasmtime::Result<bool> {
        sync::HostSocket::getblocking(self, s)
    }

    fn family(&mut self, s: Resource<Socket>) -> wasmtime::Result<AddressFamily> {
        sync::HostSocket::family(self, s)
    }

    fn kind(&mut self, s: Resource<Socket>) -> wasmtime::Result<SocketKind> {
        sync::HostSocket::kind(self, s)
    }

    fn proto(&mut self, s: Resource<Socket>) -> wasmtime::Result<i32> {
        sync::HostSocket::proto(self, s)
    }

    fn from_received_fd(&mut self, fd: Resource<ReceivedFd>) -> Result<Resource<Socket>> {
        sync::HostSocket::from_received_fd(self, fd)
    }

    fn share(&mut self, s: Resource<Socket>) -> Result<Vec<u8>> {
        sync::HostSocket::share(self, s)
    }

    fn dup(&mut self, s: Resource<Socket>) -> Result<Resource<Socket>> {
        sync::HostSocket::dup(self, s)
    }

    fn get_inheritable(&mut self, s: Resource<Socket>) -> Result<bool> {
        sync::HostSocket::get_inheritable(self, s)
    }

    fn set_inheritable(&mut self, s: Resource<Socket>, inheritable: bool) -> Result<()> {
        sync::HostSocket::set_inheritable(self, s, inheritable)
    }

    fn close(&mut self, s: Resource<Socket>) -> Result<()> {
        sync::HostSocket::close(self, s)
    }

    fn drop(&mut self, s: Resource<Socket>) -> wasmtime::Result<()> {
        sync::HostSocket::drop(self, s)
    }
}

impl generated::sockbox::socket::socket::Host for SocketCtxView<'_> {
    fn getdefaulttimeout(&mut self) -> wasmtime::Result<Option<u64>> {
        sync::Host::getdefaulttimeout(self)
    }

    fn setdefaulttimeout(&mut self, timeout: Option<u64>) -> wasmtime::Result<()> {
        sync::Host::setdefaulttimeout(self, timeout)
    }
}

impl generated::sockbox::socket::socket::HostSocketIo for SocketCtxView<'_> {
    async fn read(&mut self, io: Resource<SocketIo>, size: u64) -> Result<Option<Vec<u8>>> {
        self.read_with(Waiter::Async, io, size).await
    }

    async fn write(&mut self, io: Resource<SocketIo>, data: Vec<u8>) -> Result<Option<u64>> {
        self.write_with(Waiter::Async, io, data).await
    }

    fn open(&mut self, sock: Resource<Socket>, mode: String) -> Result<Resource<SocketIo>> {
        sync::HostSocketIo::open(self, sock, mode)
    }

    fn readable(&mut self, io: Resource<SocketIo>) -> Result<bool> {
        sync::HostSocketIo::readable(self, io)
    }

    fn writable(&mut self, io: Resource<SocketIo>) -> Result<bool> {
        sync::HostSocketIo::writable(self, io)
    }

    fn seekable(&mut self, io: Resource<SocketIo>) -> Result<bool> {
        sync::HostSocketIo::seekable(self, io)
    }

    fn mode(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<String> {
        sync::HostSocketIo::mode(self, io)
    }

    fn closed(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<bool> {
        sync::HostSocketIo::closed(self, io)
    }

    fn close(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<()> {
        sync::HostSocketIo::close(self, io)
    }

    fn subscribe(
        &mut self,
        io: Resource<SocketIo>,
        interest: Interest,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        sync::HostSocketIo::subscribe(self, io, interest)
    }

    fn drop(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<()> {
        sync::HostSocketIo::drop(self, io)
    }
}

impl generated::sockbox::socket::socket::HostReceivedFd for SocketCtxView<'_> {
    fn is_socket(&mut self, fd: Resource<ReceivedFd>) -> wasmtime::Result<bool> {
        sync::HostReceivedFd::is_socket(self, fd)
    }

    fn drop(&mut self, fd: Resource<ReceivedFd>) -> wasmtime::Result<()> {
        sync::HostReceivedFd::drop(self, fd)
    }
}

impl generated::sockbox::socket::netdb::Host for SocketCtxView<'_> {
    async fn getaddrinfo(
        &mut self,
        host: Option<String>,
        port: Option<String>,
        family: AddressFamily,
        kind: Option<SocketKind>,
        proto: i32,
        flags: AddrInfoFlags,
    ) -> Result<Vec<AddrInfo>> {
        self.getaddrinfo_with(Waiter::Async, host, port, family, kind, proto, flags)
            .await
    }

    async fn getnameinfo(
        &mut self,
        address: SockAddress,
        flags: NameInfoFlags,
    ) -> Result<(String, String), SocketError> {
        self.getnameinfo_with(Waiter::Async, &address, flags).await
    }

    fn gethostname(&mut self) -> Result<String, SocketError> {
        sync_netdb::Host::gethostname(self)
    }

    async fn gethostbyname(&mut self, name: String) -> Result<String, SocketError> {
        self.gethostbyname_with(Waiter::Async, &name).await
    }

    async fn gethostbyname_ex(&mut self, name: String) -> Result<HostEntry, SocketError> {
        self.gethostbyname_ex_with(Waiter::Async, &name).await
    }

    async fn gethostbyaddr(&mut self, address: String) -> Result<HostEntry, SocketError> {
        self.gethostbyaddr_with(Waiter::Async, &address).await
    }

    fn getservbyname(&mut self, name: String, proto: Option<String>) -> Result<u16, SocketError> {
        sync_netdb::Host::getservbyname(self, name, proto)
    }

    fn getservbyport(&mut self, port: u16, proto: Option<String>) -> Result<String, SocketError> {
        sync_netdb::Host::getservbyport(self, port, proto)
    }

    fn getprotobyname(&mut self, name: String) -> Result<i32, SocketError> {
        sync_netdb::Host::getprotobyname(self, name)
    }

    fn if_nameindex(&mut self) -> Result<Vec<(u32, String)>, SocketError> {
        sync_netdb::Host::if_nameindex(self)
    }

    fn if_nametoindex(&mut self, name: String) -> Result<u32, SocketError> {
        sync_netdb::Host::if_nametoindex(self, name)
    }

    fn if_indextoname(&mut self, index: u32) -> Result<String, SocketError> {
        sync_netdb::Host::if_indextoname(self, index)
    }
}

impl generated::sockbox::socket::helpers::Host for SocketCtxView<'_> {
    async fn create_connection(
        &mut self,
        host: String,
        port: u16,
        timeout: TimeoutSetting,
        source_address: Option<SockAddress>,
        all_errors: bool,
    ) -> wasmtime::Result<std::result::Result<Resource<Socket>, ConnectionFailure>> {
        self.create_connection_with(
            Waiter::Async,
            host,
            port,
            timeout,
            source_address,
            all_errors,
        )
        .await
    }

    fn create_server(
        &mut self,
        address: SockAddress,
        family: AddressFamily,
        backlog: Option<i32>,
        reuse_port: bool,
        dualstack_ipv6: bool,
    ) -> Result<Resource<Socket>> {
        sync_helpers::Host::create_server(
            self,
            address,
            family,
            backlog,
            reuse_port,
            dualstack_ipv6,
        )
    }

    fn socketpair(
        &mut self,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
    ) -> Result<(Resource<Socket>, Resource<Socket>)> {
        sync_helpers::Host::socketpair(self, family, kind, proto)
    }

    fn has_dualstack_ipv6(&mut self) -> wasmtime::Result<bool> {
        sync_helpers::Host::has_dualstack_ipv6(self)
    }

    fn fromshare(&mut self, token: Vec<u8>) -> Result<Resource<Socket>> {
        sync_helpers::Host::fromshare(self, token)
    }
}

impl generated::sockbox::socket::tls::Host for SocketCtxView<'_> {}

impl generated::sockbox::socket::tls::HostTlsSocket for SocketCtxView<'_> {
    async fn connect(
        &mut self,
        sock: Resource<Socket>,
        options: ClientOptions,
    ) -> Result<Resource<TlsSocket>> {
        self.tls_connect(Waiter::Async, &sock, options).await
    }

    async fn accept(
        &mut self,
        sock: Resource<Socket>,
        options: ServerOptions,
    ) -> Result<Resource<TlsSocket>> {
        self.tls_accept(Waiter::Async, &sock, options).await
    }

    fn client(
        &mut self,
        sock: Resource<Socket>,
        options: ClientOptions,
    ) -> Result<Resource<TlsSocket>> {
        tls::HostTlsSocket::client(self, sock, options)
    }

    fn server(
        &mut self,
        sock: Resource<Socket>,
        options: ServerOptions,
    ) -> Result<Resource<TlsSocket>> {
        tls::HostTlsSocket::server(self, sock, options)
    }

    async fn handshake(&mut self, t: Resource<TlsSocket>) -> Result<()> {
        self.tls_do_handshake(Waiter::Async, &t).await
    }

    fn wants_write(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<bool> {
        tls::HostTlsSocket::wants_write(self, t)
    }

    async fn send(&mut self, t: Resource<TlsSocket>, data: Vec<u8>) -> Result<u64> {
        self.tls_send(Waiter::Async, &t, &data).await
    }

    async fn sendall(&mut self, t: Resource<TlsSocket>, data: Vec<u8>) -> Result<()> {
        self.tls_sendall(Waiter::Async, &t, &data).await
    }

    async fn recv(&mut self, t: Resource<TlsSocket>, bufsize: u64) -> Result<Vec<u8>> {
        self.tls_recv(Waiter::Async, &t, bufsize).await
    }

    async fn unwrap(&mut self, t: Resource<TlsSocket>) -> Result<()> {
        self.tls_unwrap(Waiter::Async, t).await
    }

    fn pending(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<u64> {
        tls::HostTlsSocket::pending(self, t)
    }

    fn peer_certificate(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<Option<Vec<u8>>> {
        tls::HostTlsSocket::peer_certificate(self, t)
    }

    fn version(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<String> {
        tls::HostTlsSocket::version(self, t)
    }

    fn cipher(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<String> {
        tls::HostTlsSocket::cipher(self, t)
    }

    fn alpn_protocol(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<Option<String>> {
        tls::HostTlsSocket::alpn_protocol(self, t)
    }

    fn drop(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<()> {
        self.tls_drop(t)
    }
}

/// The engine waits for nothing: the synchronous implementation serves both hosts.
impl generated::sockbox::socket::tls::HostTlsEngine for SocketCtxView<'_> {
    fn client(&mut self, options: ClientOptions) -> Result<Resource<TlsEngine>> {
        tls::HostTlsEngine::client(self, options)
    }

    fn server(&mut self, options: ServerOptions) -> Result<Resource<TlsEngine>> {
        tls::HostTlsEngine::server(self, options)
    }

    fn feed(&mut self, e: Resource<TlsEngine>, data: Vec<u8>) -> Result<()> {
        tls::HostTlsEngine::feed(self, e, data)
    }

    fn feed_eof(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<()> {
        tls::HostTlsEngine::feed_eof(self, e)
    }

    fn take(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<Vec<u8>> {
        tls::HostTlsEngine::take(self, e)
    }

    fn handshaking(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<bool> {
        tls::HostTlsEngine::handshaking(self, e)
    }

    fn read(&mut self, e: Resource<TlsEngine>, bufsize: u64) -> Result<Vec<u8>> {
        tls::HostTlsEngine::read(self, e, bufsize)
    }

    fn pending(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<u64> {
        tls::HostTlsEngine::pending(self, e)
    }

    fn write(&mut self, e: Resource<TlsEngine>, data: Vec<u8>) -> Result<u64> {
        tls::HostTlsEngine::write(self, e, data)
    }

    fn close(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<()> {
        tls::HostTlsEngine::close(self, e)
    }

    fn peer_closed(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<bool> {
        tls::HostTlsEngine::peer_closed(self, e)
    }

    fn peer_certificate(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<Option<Vec<u8>>> {
        tls::HostTlsEngine::peer_certificate(self, e)
    }

    fn version(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<String> {
        tls::HostTlsEngine::version(self, e)
    }

    fn cipher(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<String> {
        tls::HostTlsEngine::cipher(self, e)
    }

    fn alpn_protocol(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<Option<String>> {
        tls::HostTlsEngine::alpn_protocol(self, e)
    }

    fn drop(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<()> {
        tls::HostTlsEngine::drop(self, e)
    }
}
