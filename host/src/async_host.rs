//! `add_to_linker_async`: the same host for tokio embedders, where one thread serves many
//! guests. A call that would block suspends the guest (its fiber) on the socket's readiness
//! instead of blocking the thread.
//!
//! It is the synchronous implementation run with waiting switched off: each call tries the
//! operation once (the instance's `InterruptHandle` tells `wait` not to block); when it would
//! wait, this module awaits readiness with tokio's `AsyncFd`, bounded by the guest's deadline
//! and woken by the interrupt, and tries again. Calls that must not start over (`sendall`,
//! `recv` with MSG_WAITALL, `sendfile`) loop over single tries here; `connect` resumes (the
//! socket remembers a connect under way); `create_connection` connects its attempts here.

use std::sync::Arc;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, WasmList};
use wasmtime_wasi::filesystem::Descriptor;

use crate::bindings::sockbox::socket::helpers::{ConnectionFailure, TimeoutSetting};
use crate::bindings::sockbox::socket::netdb::{AddrInfo, AddrInfoFlags};
use crate::bindings::sockbox::socket::socket as sync;
use crate::bindings::sockbox::socket::types::{
    AddressFamily, Errno, Error, MsgFlags, SockAddress, SocketKind,
};
use crate::ctx::{SocketCtxView, SocketView};
use crate::error::SocketError;
use crate::io::SocketIo;
use crate::netdb::Lookup;
use crate::socket::{OsSocket, Socket, connect_ex_result, read_size, waits_for_all};
use crate::wait::{Deadline, Interest, InterruptHandle, canceled};

type Result<T, E = SocketError> = std::result::Result<T, E>;

/// Adds every `sockbox:socket` interface to `linker`, for async embeddings: guests
/// instantiated and run with the `_async` calls, in a tokio runtime with IO and time enabled.
/// One thread can then serve many guests.
///
/// Link wasi first (`wasmtime_wasi::p2::add_to_linker_async`). `getaddrinfo` (and
/// `create_connection`'s lookup) runs the resolver on tokio's blocking pool; the other netdb
/// calls (`gethostbyname*`, `gethostbyaddr`, `getnameinfo`, `getfqdn`) still resolve on the
/// calling thread.
pub fn add_to_linker_async<T: SocketView + Send + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    // Everything that never waits is the synchronous host; the calls that may wait are
    // defined again, async, over them.
    crate::add_to_linker_sync(linker)?;
    linker.allow_shadowing(true);
    let mut inst = linker.instance(crate::fast::SOCKET_INTERFACE)?;
    macro_rules! wait_in {
        ($name:literal, |$v:ident, $($arg:ident: $ty:ty),*| $call:expr) => {
            inst.func_wrap_async(
                $name,
                |mut store: StoreContextMut<'_, T>, ($($arg,)*): ($($ty,)*)| {
                    Box::new(async move {
                        let mut $v = store.data_mut().socket_ctx();
                        crate::fast::finish($call.await)
                    })
                },
            )?;
        };
    }
    wait_in!("[method]socket.accept", |v, s: Resource<Socket>| v
        .accept_async(s));
    wait_in!(
        "[method]socket.connect",
        |v, s: Resource<Socket>, a: SockAddress| v.connect_async(s, a)
    );
    wait_in!(
        "[method]socket.connect-ex",
        |v, s: Resource<Socket>, a: SockAddress| v.connect_ex_async(s, a)
    );
    // send and sendall read the bytes straight from the guest's memory, as `fast` does.
    inst.func_wrap_async(
        "[method]socket.send",
        |mut store: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, MsgFlags)| {
            Box::new(async move {
                let r = send_from_memory(&mut store, &s, &data, flags, false).await;
                crate::fast::finish(r.map(|n| n as u64))
            })
        },
    )?;
    inst.func_wrap_async(
        "[method]socket.sendall",
        |mut store: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, MsgFlags)| {
            Box::new(async move {
                let r = send_from_memory(&mut store, &s, &data, flags, true).await;
                crate::fast::finish(r.map(drop))
            })
        },
    )?;
    wait_in!(
        "[method]socket.sendto",
        |v, s: Resource<Socket>, d: Vec<u8>, f: MsgFlags, a: SockAddress| v
            .sendto_async(s, d, f, a)
    );
    wait_in!(
        "[method]socket.recv",
        |v, s: Resource<Socket>, n: u64, f: MsgFlags| v.recv_async(s, n, f)
    );
    wait_in!(
        "[method]socket.recvfrom",
        |v, s: Resource<Socket>, n: u64, f: MsgFlags| v.recvfrom_async(s, n, f)
    );
    wait_in!(
        "[method]socket.sendmsg",
        |v, s: Resource<Socket>, b: Vec<Vec<u8>>, f: MsgFlags, a: Option<SockAddress>| v
            .sendmsg_async(s, b, f, a)
    );
    wait_in!(
        "[method]socket.recvmsg",
        |v, s: Resource<Socket>, n: u64, f: MsgFlags| v.recvmsg_async(s, n, f)
    );
    wait_in!(
        "[method]socket.send-fds",
        |v,
         s: Resource<Socket>,
         b: Vec<Vec<u8>>,
         fds: Vec<sync::FdToSend>,
         f: MsgFlags,
         a: Option<SockAddress>| v.send_fds_async(s, b, fds, f, a)
    );
    wait_in!(
        "[method]socket.recv-fds",
        |v, s: Resource<Socket>, n: u64, m: u32, f: MsgFlags| v.recv_fds_async(s, n, m, f)
    );
    wait_in!(
        "[method]socket.sendfile",
        |v, s: Resource<Socket>, file: Resource<Descriptor>, o: u64, c: Option<u64>| v
            .sendfile_async(s, file, o, c)
    );
    wait_in!(
        "[method]socket-io.read",
        |v, io: Resource<SocketIo>, n: u64| v.read_async(io, n)
    );
    wait_in!(
        "[method]socket-io.write",
        |v, io: Resource<SocketIo>, d: Vec<u8>| v.write_async(io, d)
    );
    let mut netdb = linker.instance(NETDB_INTERFACE)?;
    netdb.func_wrap_async(
        "getaddrinfo",
        |mut store: StoreContextMut<'_, T>,
         (host, port, family, kind, proto, flags): (
            Option<String>,
            Option<String>,
            AddressFamily,
            Option<SocketKind>,
            i32,
            AddrInfoFlags,
        )| {
            Box::new(async move {
                let mut v = store.data_mut().socket_ctx();
                crate::fast::finish(
                    v.getaddrinfo_async(host, port, family, kind, proto, flags)
                        .await,
                )
            })
        },
    )?;
    let mut helpers = linker.instance(HELPERS_INTERFACE)?;
    helpers.func_wrap_async(
        "create-connection",
        |mut store: StoreContextMut<'_, T>,
         (host, port, timeout, source, all): (
            String,
            u16,
            TimeoutSetting,
            Option<SockAddress>,
            bool,
        )| {
            Box::new(async move {
                let mut v = store.data_mut().socket_ctx();
                let r = v
                    .create_connection_async(host, port, timeout, source, all)
                    .await?;
                Ok((r,))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// `send` (once) or `sendall` (until every byte went; the timeout bounds the whole call, as
/// in Python 3.5+) of `data` in the guest's memory, waiting between tries.
async fn send_from_memory<T: SocketView>(
    store: &mut StoreContextMut<'_, T>,
    s: &Resource<Socket>,
    data: &WasmList<u8>,
    flags: MsgFlags,
    all: bool,
) -> Result<usize> {
    let (os, intr) = crate::fast::target(store, s)?;
    let deadline = os.deadline(flags);
    let mut sent = 0;
    loop {
        let tried =
            intr.without_waiting(|| os.send(&intr, &data.as_le_slice(&*store)[sent..], flags));
        match tried {
            Ok(n) => {
                sent += n;
                if !all || sent == data.len() {
                    return Ok(sent);
                }
            }
            Err(e) => match e.waits_for() {
                Some(interest) => readiness(&os, interest, deadline, &intr).await?,
                None => return Err(e),
            },
        }
    }
}

/// The netdb interface, as the bindings name it.
const NETDB_INTERFACE: &str = "sockbox:socket/netdb@0.1.0";

/// The helpers interface, as the bindings name it.
const HELPERS_INTERFACE: &str = "sockbox:socket/helpers@0.1.0";

/// Awaits `interest` on `os` until `deadline` (a timeout) or the interrupt (canceled).
async fn readiness(
    os: &OsSocket,
    interest: Interest,
    deadline: Deadline,
    intr: &InterruptHandle,
) -> Result<()> {
    if intr.is_interrupted() {
        return Err(canceled());
    }
    let at = match deadline {
        Deadline::Now => return Err(SocketError::errno(Errno::Again)),
        Deadline::Never => None,
        Deadline::At(at) => Some(tokio::time::Instant::from_std(at)),
    };
    let events = interest.poll_flags();
    let sleep = async {
        match at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = os.ready(events) => Ok(()),
        () = intr.interrupted() => Err(canceled()),
        () = sleep => Err(SocketError::timeout()),
    }
}

impl SocketCtxView<'_> {
    fn os_of(&self, s: &Resource<Socket>) -> Result<Arc<OsSocket>> {
        Ok(Arc::clone(self.table.get(s)?.os()?))
    }

    /// Runs `op` with waiting switched off; what it would wait for comes back as
    /// `SocketError::would_wait`.
    fn once<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let intr = self.ctx.interrupt.clone();
        intr.without_waiting(|| op(self))
    }

    /// Tries `op` until it does not need to wait, awaiting readiness of `os` in between,
    /// all bounded by `deadline`.
    async fn retry<T>(
        &mut self,
        os: &OsSocket,
        deadline: Deadline,
        mut op: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<T> {
        loop {
            match self.once(&mut op) {
                Err(e) => match e.waits_for() {
                    Some(interest) => {
                        readiness(os, interest, deadline, &self.ctx.interrupt).await?;
                    }
                    None => return Err(e),
                },
                done => return done,
            }
        }
    }

    /// [`retry`](Self::retry) for a call on socket `s`, with the socket's deadline for `flags`.
    async fn retry_on<T>(
        &mut self,
        s: &Resource<Socket>,
        flags: MsgFlags,
        op: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<T> {
        let os = self.os_of(s)?;
        let deadline = os.deadline(flags);
        self.retry(&os, deadline, op).await
    }
}

/// A borrow of the same resource, for one more try.
fn again<T: 'static>(r: &Resource<T>) -> Resource<T> {
    Resource::new_borrow(r.rep())
}

impl SocketCtxView<'_> {
    async fn accept_async(
        &mut self,
        s: Resource<Socket>,
    ) -> Result<(Resource<Socket>, SockAddress)> {
        self.retry_on(&s, MsgFlags::empty(), |v| {
            sync::HostSocket::accept(v, again(&s))
        })
        .await
    }

    async fn connect_async(&mut self, s: Resource<Socket>, address: SockAddress) -> Result<()> {
        self.retry_on(&s, MsgFlags::empty(), |v| {
            sync::HostSocket::connect(v, again(&s), address.clone())
        })
        .await
    }

    async fn connect_ex_async(
        &mut self,
        s: Resource<Socket>,
        address: SockAddress,
    ) -> Result<Option<Errno>> {
        connect_ex_result(self.connect_async(again(&s), address).await)
    }

    async fn sendto_async(
        &mut self,
        s: Resource<Socket>,
        data: Vec<u8>,
        flags: MsgFlags,
        address: SockAddress,
    ) -> Result<u64> {
        self.retry_on(&s, flags, |v| {
            sync::HostSocket::sendto(v, again(&s), data.clone(), flags, address.clone())
        })
        .await
    }

    async fn recv_async(
        &mut self,
        s: Resource<Socket>,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<Vec<u8>> {
        let os = self.os_of(&s)?;
        let deadline = os.deadline(flags);
        let waitall = waits_for_all(flags, deadline);
        let first = self
            .retry(&os, deadline, |v| os.recv(v.ctx, bufsize, flags))
            .await?;
        if !waitall {
            return Ok(first);
        }
        // MSG_WAITALL on a blocking socket: go on until the buffer is full or the stream ends.
        let want = read_size(self.ctx, bufsize);
        let mut buf = first;
        while !buf.is_empty() && buf.len() < want {
            let rest = (want - buf.len()) as u64;
            let more = self
                .retry(&os, deadline, |v| os.recv(v.ctx, rest, flags))
                .await;
            match more {
                Ok(more) if more.is_empty() => break,
                Ok(more) => buf.extend_from_slice(&more),
                // Like the kernel: an error after some data returns the data.
                Err(_) => break,
            }
        }
        Ok(buf)
    }

    async fn recvfrom_async(
        &mut self,
        s: Resource<Socket>,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<(Vec<u8>, Option<SockAddress>)> {
        self.retry_on(&s, flags, |v| {
            sync::HostSocket::recvfrom(v, again(&s), bufsize, flags)
        })
        .await
    }

    async fn sendmsg_async(
        &mut self,
        s: Resource<Socket>,
        buffers: Vec<Vec<u8>>,
        flags: MsgFlags,
        address: Option<SockAddress>,
    ) -> Result<u64> {
        self.retry_on(&s, flags, |v| {
            sync::HostSocket::sendmsg(v, again(&s), buffers.clone(), flags, address.clone())
        })
        .await
    }

    async fn recvmsg_async(
        &mut self,
        s: Resource<Socket>,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<sync::Message> {
        self.retry_on(&s, flags, |v| {
            sync::HostSocket::recvmsg(v, again(&s), bufsize, flags)
        })
        .await
    }

    async fn send_fds_async(
        &mut self,
        s: Resource<Socket>,
        buffers: Vec<Vec<u8>>,
        fds: Vec<sync::FdToSend>,
        flags: MsgFlags,
        address: Option<SockAddress>,
    ) -> Result<u64> {
        self.retry_on(&s, flags, |v| {
            let fds = fds.iter().map(copy_fd).collect();
            sync::HostSocket::send_fds(v, again(&s), buffers.clone(), fds, flags, address.clone())
        })
        .await
    }

    async fn recv_fds_async(
        &mut self,
        s: Resource<Socket>,
        bufsize: u64,
        maxfds: u32,
        flags: MsgFlags,
    ) -> Result<sync::FdsMessage> {
        self.retry_on(&s, flags, |v| {
            sync::HostSocket::recv_fds(v, again(&s), bufsize, maxfds, flags)
        })
        .await
    }

    async fn sendfile_async(
        &mut self,
        s: Resource<Socket>,
        file: Resource<Descriptor>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let rest = count.map(|c| c - total);
            if rest == Some(0) {
                break;
            }
            let at = offset.saturating_add(total);
            let sent = self
                .retry_on(&s, MsgFlags::empty(), |v| {
                    sync::HostSocket::sendfile(v, again(&s), again(&file), at, rest)
                })
                .await;
            match sent {
                Ok(0) => break,
                Ok(n) => total += n,
                // After some bytes went, the guest gets the count (it would resend otherwise).
                Err(_) if total > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }
}

/// Another borrow of the same descriptor to pass.
fn copy_fd(fd: &sync::FdToSend) -> sync::FdToSend {
    match fd {
        sync::FdToSend::Socket(s) => sync::FdToSend::Socket(again(s)),
        sync::FdToSend::File(f) => sync::FdToSend::File(again(f)),
        sync::FdToSend::Received(r) => sync::FdToSend::Received(again(r)),
    }
}

impl SocketCtxView<'_> {
    async fn read_async(&mut self, io: Resource<SocketIo>, size: u64) -> Result<Option<Vec<u8>>> {
        let os = self.table.get(&io)?.os_shared()?;
        let deadline = os.deadline(MsgFlags::empty());
        let got = self
            .retry(&os, deadline, |v| {
                sync::HostSocketIo::read(v, again(&io), size)
            })
            .await;
        if matches!(
            got.as_ref().err().and_then(SocketError::as_guest),
            Some(Error::Timeout)
        ) {
            self.table.get_mut(&io)?.note_timeout();
        }
        got
    }

    async fn write_async(&mut self, io: Resource<SocketIo>, data: Vec<u8>) -> Result<Option<u64>> {
        let os = self.table.get(&io)?.os_shared()?;
        let deadline = os.deadline(MsgFlags::empty());
        self.retry(&os, deadline, |v| {
            sync::HostSocketIo::write(v, again(&io), data.clone())
        })
        .await
    }
}

impl SocketCtxView<'_> {
    async fn create_connection_async(
        &mut self,
        host: String,
        port: u16,
        timeout: TimeoutSetting,
        source_address: Option<SockAddress>,
        all_errors: bool,
    ) -> wasmtime::Result<std::result::Result<Resource<Socket>, ConnectionFailure>> {
        let answers = match self
            .getaddrinfo_async(
                Some(host),
                Some(port.to_string()),
                AddressFamily::Unspec,
                Some(SocketKind::Stream),
                0,
                AddrInfoFlags::empty(),
            )
            .await
        {
            Ok(a) => a,
            // A lookup failure is raised as it is, all_errors or not (socket.py).
            Err(e) => return Ok(Err(ConnectionFailure::Lookup(e.into_guest()?))),
        };
        let mut errors = Vec::new();
        for a in &answers {
            let attempt = async {
                let sock = self.connect_socket(
                    a.family,
                    a.kind,
                    a.proto,
                    timeout,
                    source_address.as_ref(),
                )?;
                let os = Arc::clone(sock.os()?);
                let deadline = os.deadline(MsgFlags::empty());
                self.retry(&os, deadline, |v| os.connect(v.ctx, &a.address))
                    .await?;
                Ok::<_, SocketError>(sock)
            };
            match attempt.await {
                Ok(sock) => return self.connection_outcome(Some(sock), errors, all_errors),
                Err(e) => errors.push(e.into_guest()?),
            }
        }
        self.connection_outcome(None, errors, all_errors)
    }

    /// `getaddrinfo` with the resolver call on tokio's blocking pool, so a slow lookup stalls
    /// no guest but this one; the policy and the pinning stay on the instance.
    async fn getaddrinfo_async(
        &mut self,
        host: Option<String>,
        port: Option<String>,
        family: AddressFamily,
        kind: Option<SocketKind>,
        proto: i32,
        flags: AddrInfoFlags,
    ) -> Result<Vec<AddrInfo>> {
        let lookup = Lookup::new(
            self.ctx,
            host.as_deref(),
            port.as_deref(),
            family,
            kind,
            proto,
            flags,
        )?;
        let pending = self.ctx.lookup_slot()?;
        let (lookup, answers) = tokio::task::spawn_blocking(move || {
            let answers = lookup.resolve();
            (lookup, answers)
        })
        .await
        .map_err(SocketError::trap)?;
        drop(pending);
        lookup.finish(self.ctx, answers?)
    }
}
