//! The synchronous bindings' traits: each call translates between the WIT and the core's
//! operations, run with [`Waiter::Sync`] where they may wait.

use std::time::Duration;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::DynPollable;

use crate::core::addr::from_os;
use crate::core::ctx::SocketCtxView;
use crate::core::error::SocketError;
use crate::core::ops::fds::ReceivedFd;
use crate::core::ops::io::SocketIo;
use crate::core::ops::netdb as lookup;
use crate::core::ops::socket::{BindError, Socket, connect_ex_result, duration_ns};
use crate::core::ops::tls::{TlsEngine, TlsSocket};
use crate::core::policy::Use;
use crate::core::types::*;
use crate::core::wait::{Waiter, run_sync};
use crate::wit::bindings::sockbox::socket::{helpers, netdb, preopens, socket as sync, tls};

type Result<T, E = SocketError> = std::result::Result<T, E>;

impl sync::HostSocket for SocketCtxView<'_> {
    fn create(
        &mut self,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
    ) -> Result<Resource<Socket>> {
        let slot = self.ctx.slot()?;
        let sock = Socket::create(family, kind, proto, self.ctx.default_timeout, slot)?;
        self.push_socket(sock)
    }

    fn bind(&mut self, s: Resource<Socket>, address: SockAddress) -> Result<()> {
        let to = self.ctx.gate.check(Use::Bind(&address))?;
        match self.table.get(&s)?.os()?.bind(to) {
            Ok(()) => Ok(()),
            Err(BindError::Refused(e)) => Err(e),
            Err(BindError::Elsewhere(e)) => {
                SocketCtxView::socket_close(self, s)?;
                Err(e)
            }
        }
    }

    fn listen(&mut self, s: Resource<Socket>, backlog: i32) -> Result<()> {
        self.table.get(&s)?.os()?.listen(self.ctx, backlog)
    }

    fn accept(&mut self, s: Resource<Socket>) -> Result<(Resource<Socket>, SockAddress)> {
        run_sync(self.accept_with(Waiter::Sync, s))
    }

    fn connect(&mut self, s: Resource<Socket>, address: SockAddress) -> Result<()> {
        run_sync(self.connect_with(Waiter::Sync, s, address))
    }

    fn connect_ex(&mut self, s: Resource<Socket>, address: SockAddress) -> Result<Option<Errno>> {
        connect_ex_result(self.connect(s, address))
    }

    fn send(&mut self, s: Resource<Socket>, data: Vec<u8>, flags: MsgFlags) -> Result<u64> {
        let os = self.table.get(&s)?.os()?;
        let n = run_sync(os.send(Waiter::Sync, &self.ctx.interrupt, &data, flags))?;
        Ok(n as u64)
    }

    fn sendall(&mut self, s: Resource<Socket>, data: Vec<u8>, flags: MsgFlags) -> Result<()> {
        let os = self.table.get(&s)?.os()?;
        let intr = &self.ctx.interrupt;
        let mut bytes = &*data;
        let sending = os.send_from(Waiter::Sync, intr, &mut bytes, |d| d, flags, true);
        run_sync(sending).map(drop)
    }

    fn sendto(
        &mut self,
        s: Resource<Socket>,
        data: Vec<u8>,
        flags: MsgFlags,
        address: SockAddress,
    ) -> Result<u64> {
        run_sync(self.sendto_with(Waiter::Sync, s, data, flags, address))
    }

    fn recv(&mut self, s: Resource<Socket>, bufsize: u64, flags: MsgFlags) -> Result<Vec<u8>> {
        run_sync(self.recv_with(Waiter::Sync, s, bufsize, flags))
    }

    fn recvfrom(
        &mut self,
        s: Resource<Socket>,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<(Vec<u8>, Option<SockAddress>)> {
        let m = run_sync(self.recvmsg_with(Waiter::Sync, s, bufsize, flags))?;
        Ok((m.data, m.address))
    }

    fn sendmsg(
        &mut self,
        s: Resource<Socket>,
        buffers: Vec<Vec<u8>>,
        flags: MsgFlags,
        address: Option<SockAddress>,
    ) -> Result<u64> {
        run_sync(self.sendmsg_with(Waiter::Sync, s, buffers, flags, address))
    }

    fn recvmsg(&mut self, s: Resource<Socket>, bufsize: u64, flags: MsgFlags) -> Result<Message> {
        run_sync(self.recvmsg_with(Waiter::Sync, s, bufsize, flags))
    }

    fn shutdown(&mut self, s: Resource<Socket>, how: ShutdownHow) -> Result<()> {
        self.table.get(&s)?.os()?.shutdown(how)
    }

    fn getsockname(&mut self, s: Resource<Socket>) -> Result<SockAddress> {
        from_os(&self.table.get(&s)?.os()?.os.local_addr()?)
    }

    fn getpeername(&mut self, s: Resource<Socket>) -> Result<SockAddress> {
        from_os(&self.table.get(&s)?.os()?.os.peer_addr()?)
    }

    fn getsockopt(&mut self, s: Resource<Socket>, name: SockoptName) -> Result<Sockopt> {
        crate::core::ops::sockopt::get(&self.table.get(&s)?.os()?.os, name)
    }

    fn setsockopt(&mut self, s: Resource<Socket>, value: Sockopt) -> Result<()> {
        let os = self.table.get(&s)?.os()?;
        os.changeable()?;
        crate::core::ops::sockopt::set(self.ctx, &os.os, value)
    }

    fn setsockopt_raw(
        &mut self,
        s: Resource<Socket>,
        level: i32,
        option: i32,
        value: Vec<u8>,
    ) -> Result<()> {
        let os = self.table.get(&s)?.os()?;
        os.changeable()?;
        let typed = crate::core::ops::sockopt::decode(level, option, &value)?;
        crate::core::ops::sockopt::set(self.ctx, &os.os, typed)
    }

    fn getsockopt_raw(
        &mut self,
        s: Resource<Socket>,
        level: i32,
        option: i32,
        buflen: u32,
    ) -> Result<Vec<u8>> {
        let os = &self.table.get(&s)?.os()?.os;
        let Some(name) = crate::core::ops::sockopt::name_of(level, option)? else {
            return Err(SocketError::os(
                Errno::NoProtocolOption,
                "Protocol not available (multicast memberships are write only)",
            ));
        };
        let mut bytes =
            crate::core::ops::sockopt::encode(&crate::core::ops::sockopt::get(os, name)?);
        bytes.truncate(buflen as usize);
        Ok(bytes)
    }

    fn subscribe(
        &mut self,
        s: Resource<Socket>,
        interest: Interest,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        SocketCtxView::socket_subscribe(self, s, interest)
    }

    fn settimeout(&mut self, s: Resource<Socket>, timeout: Option<u64>) -> wasmtime::Result<()> {
        SocketCtxView::socket_settimeout(self, s, timeout)
    }

    fn gettimeout(&mut self, s: Resource<Socket>) -> wasmtime::Result<Option<u64>> {
        SocketCtxView::socket_gettimeout(self, s)
    }

    fn setblocking(&mut self, s: Resource<Socket>, flag: bool) -> wasmtime::Result<()> {
        SocketCtxView::socket_setblocking(self, s, flag)
    }

    fn getblocking(&mut self, s: Resource<Socket>) -> wasmtime::Result<bool> {
        SocketCtxView::socket_getblocking(self, s)
    }

    fn family(&mut self, s: Resource<Socket>) -> wasmtime::Result<AddressFamily> {
        SocketCtxView::socket_family(self, s)
    }

    fn kind(&mut self, s: Resource<Socket>) -> wasmtime::Result<SocketKind> {
        SocketCtxView::socket_kind(self, s)
    }

    fn proto(&mut self, s: Resource<Socket>) -> wasmtime::Result<i32> {
        SocketCtxView::socket_proto(self, s)
    }

    fn send_fds(
        &mut self,
        s: Resource<Socket>,
        buffers: Vec<Vec<u8>>,
        fds: Vec<sync::FdToSend>,
        flags: MsgFlags,
        address: Option<SockAddress>,
    ) -> Result<u64> {
        let fds: Vec<_> = fds
            .into_iter()
            .map(crate::core::ops::fds::FdToSend::from)
            .collect();
        run_sync(SocketCtxView::send_fds(
            self,
            Waiter::Sync,
            &s,
            &buffers,
            &fds,
            flags,
            address.as_ref(),
        ))
    }

    fn recv_fds(
        &mut self,
        s: Resource<Socket>,
        bufsize: u64,
        maxfds: u32,
        flags: MsgFlags,
    ) -> Result<sync::FdsMessage> {
        let m = run_sync(SocketCtxView::recv_fds(
            self,
            Waiter::Sync,
            &s,
            bufsize,
            maxfds,
            flags,
        ))?;
        Ok(sync::FdsMessage {
            data: m.data,
            fds: m.fds,
            flags: m.flags,
            address: m.address,
        })
    }

    fn from_received_fd(
        &mut self,
        fd: Resource<crate::core::ops::fds::ReceivedFd>,
    ) -> Result<Resource<Socket>> {
        SocketCtxView::socket_from_received_fd(self, fd)
    }

    fn sendfile(
        &mut self,
        s: Resource<Socket>,
        file: Resource<wasmtime_wasi::filesystem::Descriptor>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64> {
        run_sync(SocketCtxView::sendfile(
            self,
            Waiter::Sync,
            &s,
            &file,
            offset,
            count,
        ))
    }

    fn share(&mut self, s: Resource<Socket>) -> Result<Vec<u8>> {
        SocketCtxView::share(self, &s)
    }

    fn dup(&mut self, s: Resource<Socket>) -> Result<Resource<Socket>> {
        SocketCtxView::socket_dup(self, s)
    }

    fn get_inheritable(&mut self, s: Resource<Socket>) -> Result<bool> {
        SocketCtxView::socket_get_inheritable(self, s)
    }

    fn set_inheritable(&mut self, s: Resource<Socket>, inheritable: bool) -> Result<()> {
        SocketCtxView::socket_set_inheritable(self, s, inheritable)
    }

    fn close(&mut self, s: Resource<Socket>) -> Result<()> {
        SocketCtxView::socket_close(self, s)
    }

    fn drop(&mut self, s: Resource<Socket>) -> wasmtime::Result<()> {
        SocketCtxView::socket_drop(self, s)
    }
}

impl sync::Host for SocketCtxView<'_> {
    fn getdefaulttimeout(&mut self) -> wasmtime::Result<Option<u64>> {
        Ok(self.ctx.default_timeout.map(duration_ns))
    }

    fn setdefaulttimeout(&mut self, timeout: Option<u64>) -> wasmtime::Result<()> {
        self.ctx.default_timeout = timeout.map(Duration::from_nanos);
        Ok(())
    }
}

impl sync::HostSocketIo for SocketCtxView<'_> {
    fn open(&mut self, sock: Resource<Socket>, mode: String) -> Result<Resource<SocketIo>> {
        SocketCtxView::io_open(self, sock, mode)
    }

    fn read(&mut self, io: Resource<SocketIo>, size: u64) -> Result<Option<Vec<u8>>> {
        run_sync(self.read_with(Waiter::Sync, io, size))
    }

    fn write(&mut self, io: Resource<SocketIo>, data: Vec<u8>) -> Result<Option<u64>> {
        run_sync(self.write_with(Waiter::Sync, io, data))
    }

    fn readable(&mut self, io: Resource<SocketIo>) -> Result<bool> {
        SocketCtxView::io_readable(self, io)
    }

    fn writable(&mut self, io: Resource<SocketIo>) -> Result<bool> {
        SocketCtxView::io_writable(self, io)
    }

    fn seekable(&mut self, io: Resource<SocketIo>) -> Result<bool> {
        SocketCtxView::io_seekable(self, io)
    }

    fn mode(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<String> {
        SocketCtxView::io_mode(self, io)
    }

    fn closed(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<bool> {
        SocketCtxView::io_closed(self, io)
    }

    fn close(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<()> {
        SocketCtxView::io_close(self, io)
    }

    fn subscribe(
        &mut self,
        io: Resource<SocketIo>,
        interest: Interest,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        SocketCtxView::io_subscribe(self, io, interest)
    }

    fn drop(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<()> {
        SocketCtxView::io_drop(self, io)
    }
}

impl sync::HostReceivedFd for SocketCtxView<'_> {
    fn is_socket(&mut self, fd: Resource<ReceivedFd>) -> wasmtime::Result<bool> {
        SocketCtxView::received_is_socket(self, fd)
    }

    fn drop(&mut self, fd: Resource<ReceivedFd>) -> wasmtime::Result<()> {
        SocketCtxView::received_drop(self, fd)
    }
}

impl netdb::Host for SocketCtxView<'_> {
    fn getaddrinfo(
        &mut self,
        host: Option<String>,
        port: Option<String>,
        family: AddressFamily,
        kind: Option<SocketKind>,
        proto: i32,
        flags: AddrInfoFlags,
    ) -> Result<Vec<AddrInfo>, SocketError> {
        run_sync(self.getaddrinfo_with(Waiter::Sync, host, port, family, kind, proto, flags))
    }

    fn getnameinfo(
        &mut self,
        address: SockAddress,
        flags: NameInfoFlags,
    ) -> Result<(String, String), SocketError> {
        run_sync(self.getnameinfo_with(Waiter::Sync, &address, flags))
    }

    fn gethostname(&mut self) -> Result<String, SocketError> {
        lookup::gethostname()
    }

    fn gethostbyname(&mut self, name: String) -> Result<String, SocketError> {
        run_sync(self.gethostbyname_with(Waiter::Sync, &name))
    }

    fn gethostbyname_ex(&mut self, name: String) -> Result<HostEntry, SocketError> {
        run_sync(self.gethostbyname_ex_with(Waiter::Sync, &name))
    }

    fn gethostbyaddr(&mut self, address: String) -> Result<HostEntry, SocketError> {
        run_sync(self.gethostbyaddr_with(Waiter::Sync, &address))
    }

    fn getservbyname(&mut self, name: String, proto: Option<String>) -> Result<u16, SocketError> {
        lookup::getservbyname(&name, proto.as_deref())
    }

    fn getservbyport(&mut self, port: u16, proto: Option<String>) -> Result<String, SocketError> {
        lookup::getservbyport(port, proto.as_deref())
    }

    fn getprotobyname(&mut self, name: String) -> Result<i32, SocketError> {
        lookup::getprotobyname(&name)
    }

    fn if_nameindex(&mut self) -> Result<Vec<(u32, String)>, SocketError> {
        lookup::if_nameindex()
    }

    fn if_nametoindex(&mut self, name: String) -> Result<u32, SocketError> {
        lookup::if_nametoindex(&name)
    }

    fn if_indextoname(&mut self, index: u32) -> Result<String, SocketError> {
        lookup::if_indextoname(index)
    }
}

impl helpers::Host for SocketCtxView<'_> {
    fn create_connection(
        &mut self,
        host: String,
        port: u16,
        timeout: TimeoutSetting,
        source_address: Option<SockAddress>,
        all_errors: bool,
    ) -> wasmtime::Result<std::result::Result<Resource<Socket>, ConnectionFailure>> {
        run_sync(self.create_connection_with(
            Waiter::Sync,
            host,
            port,
            timeout,
            source_address,
            all_errors,
        ))
    }

    fn create_server(
        &mut self,
        address: SockAddress,
        family: AddressFamily,
        backlog: Option<i32>,
        reuse_port: bool,
        dualstack_ipv6: bool,
    ) -> Result<Resource<Socket>> {
        SocketCtxView::create_server(self, address, family, backlog, reuse_port, dualstack_ipv6)
    }

    fn socketpair(
        &mut self,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
    ) -> Result<(Resource<Socket>, Resource<Socket>)> {
        SocketCtxView::socketpair(self, family, kind, proto)
    }

    fn has_dualstack_ipv6(&mut self) -> wasmtime::Result<bool> {
        Ok(crate::core::ops::helpers::has_dualstack_ipv6())
    }

    fn fromshare(&mut self, token: Vec<u8>) -> Result<Resource<Socket>> {
        SocketCtxView::fromshare(self, &token)
    }
}

impl preopens::Host for SocketCtxView<'_> {
    fn get_sockets(&mut self) -> Result<Vec<(Resource<Socket>, String)>, SocketError> {
        let mut out = Vec::with_capacity(self.ctx.preopens.len());
        for i in 0..self.ctx.preopens.len() {
            let slot = self.ctx.slot()?;
            // A fresh handle per call (like wasi's get-directories): the guest may close its
            // copy without losing the listener.
            let (name, os) = &self.ctx.preopens[i];
            let name = name.clone();
            let sock = Socket::preopened(os.try_clone()?, self.ctx.default_timeout, slot)?;
            out.push((self.push_socket(sock)?, name));
        }
        Ok(out)
    }
}

impl From<sync::FdToSend> for crate::core::ops::fds::FdToSend {
    fn from(fd: sync::FdToSend) -> Self {
        match fd {
            sync::FdToSend::Socket(s) => Self::Socket(s),
            sync::FdToSend::File(f) => Self::File(f),
            sync::FdToSend::Received(r) => Self::Received(r),
        }
    }
}

impl tls::Host for SocketCtxView<'_> {}

impl tls::HostTlsSocket for SocketCtxView<'_> {
    fn connect(
        &mut self,
        sock: Resource<Socket>,
        options: ClientOptions,
    ) -> Result<Resource<TlsSocket>> {
        run_sync(self.tls_connect(Waiter::Sync, &sock, options))
    }

    fn accept(
        &mut self,
        sock: Resource<Socket>,
        options: ServerOptions,
    ) -> Result<Resource<TlsSocket>> {
        run_sync(self.tls_accept(Waiter::Sync, &sock, options))
    }

    fn client(
        &mut self,
        sock: Resource<Socket>,
        options: ClientOptions,
    ) -> Result<Resource<TlsSocket>> {
        self.tls_client(&sock, options)
    }

    fn server(
        &mut self,
        sock: Resource<Socket>,
        options: ServerOptions,
    ) -> Result<Resource<TlsSocket>> {
        self.tls_server(&sock, options)
    }

    fn handshake(&mut self, t: Resource<TlsSocket>) -> Result<()> {
        run_sync(self.tls_do_handshake(Waiter::Sync, &t))
    }

    fn wants_write(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<bool> {
        Ok(self.tls_wants_write(&t)?)
    }

    fn send(&mut self, t: Resource<TlsSocket>, data: Vec<u8>) -> Result<u64> {
        run_sync(self.tls_send(Waiter::Sync, &t, &data))
    }

    fn sendall(&mut self, t: Resource<TlsSocket>, data: Vec<u8>) -> Result<()> {
        run_sync(self.tls_sendall(Waiter::Sync, &t, &data))
    }

    fn recv(&mut self, t: Resource<TlsSocket>, bufsize: u64) -> Result<Vec<u8>> {
        run_sync(self.tls_recv(Waiter::Sync, &t, bufsize))
    }

    fn unwrap(&mut self, t: Resource<TlsSocket>) -> Result<()> {
        run_sync(self.tls_unwrap(Waiter::Sync, t))
    }

    fn pending(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<u64> {
        Ok(self.tls_pending(&t)?)
    }

    fn peer_certificate(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.tls_facts(&t)?.peer_certificate)
    }

    fn version(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<String> {
        Ok(self.tls_facts(&t)?.version)
    }

    fn cipher(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<String> {
        Ok(self.tls_facts(&t)?.cipher)
    }

    fn alpn_protocol(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<Option<String>> {
        Ok(self.tls_facts(&t)?.alpn)
    }

    fn drop(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<()> {
        self.tls_drop(t)
    }
}

impl tls::HostTlsEngine for SocketCtxView<'_> {
    fn client(&mut self, options: ClientOptions) -> Result<Resource<TlsEngine>> {
        self.engine_client(options)
    }

    fn server(&mut self, options: ServerOptions) -> Result<Resource<TlsEngine>> {
        self.engine_server(options)
    }

    fn feed(&mut self, e: Resource<TlsEngine>, data: Vec<u8>) -> Result<()> {
        self.engine_feed(&e, &data)
    }

    fn feed_eof(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<()> {
        Ok(self.engine_feed_eof(&e)?)
    }

    fn take(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.engine_take(&e)?)
    }

    fn handshaking(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<bool> {
        Ok(self.engine_handshaking(&e)?)
    }

    fn read(&mut self, e: Resource<TlsEngine>, bufsize: u64) -> Result<Vec<u8>> {
        self.engine_read(&e, bufsize)
    }

    fn pending(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<u64> {
        Ok(self.engine_pending(&e)?)
    }

    fn write(&mut self, e: Resource<TlsEngine>, data: Vec<u8>) -> Result<u64> {
        self.engine_write(&e, &data)
    }

    fn close(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<()> {
        Ok(self.engine_close(&e)?)
    }

    fn peer_closed(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<bool> {
        Ok(self.engine_peer_closed(&e)?)
    }

    fn peer_certificate(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<Option<Vec<u8>>> {
        Ok(self.engine_facts(&e)?.peer_certificate)
    }

    fn version(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<String> {
        Ok(self.engine_facts(&e)?.version)
    }

    fn cipher(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<String> {
        Ok(self.engine_facts(&e)?.cipher)
    }

    fn alpn_protocol(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<Option<String>> {
        Ok(self.engine_facts(&e)?.alpn)
    }

    fn drop(&mut self, e: Resource<TlsEngine>) -> wasmtime::Result<()> {
        self.table.delete(e)?;
        Ok(())
    }
}
