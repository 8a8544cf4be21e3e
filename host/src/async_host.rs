//! `add_to_linker_async`: the same host for tokio embedders, where one thread serves many
//! guests. A call that would block suspends the guest (its fiber) on the socket's readiness
//! instead of blocking the thread.
//!
//! Every call that may wait is the core's operation (see `wait`) awaited with
//! [`Waiter::Async`]; the synchronous host runs the very same operations with
//! [`Waiter::Sync`]. Calls that never wait are the synchronous bindings' own.

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::Descriptor;

use crate::bindings::sockbox::socket::helpers::TimeoutSetting;
use crate::bindings::sockbox::socket::netdb::AddrInfoFlags;
use crate::bindings::sockbox::socket::socket as sync;
use crate::bindings::sockbox::socket::types::{AddressFamily, MsgFlags, SockAddress, SocketKind};
use crate::ctx::SocketView;
use crate::fast::finish;
use crate::io::SocketIo;
use crate::socket::{Socket, connect_ex_result};
use crate::wait::Waiter;

/// The netdb interface, as the bindings name it.
const NETDB_INTERFACE: &str = "sockbox:socket/netdb@0.1.0";

/// The helpers interface, as the bindings name it.
const HELPERS_INTERFACE: &str = "sockbox:socket/helpers@0.1.0";

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
    // defined again, awaiting the same operations.
    crate::add_to_linker_sync(linker)?;
    crate::fast::add_to_linker_async(linker)?;
    linker.allow_shadowing(true);
    let mut inst = linker.instance(crate::fast::SOCKET_INTERFACE)?;
    macro_rules! wait_in {
        ($inst:ident, $name:literal, |$v:ident, $($arg:ident: $ty:ty),*| $call:expr) => {
            $inst.func_wrap_async(
                $name,
                |mut store: StoreContextMut<'_, T>, ($($arg,)*): ($($ty,)*)| {
                    Box::new(async move {
                        let mut $v = store.data_mut().socket_ctx();
                        finish($call.await)
                    })
                },
            )?;
        };
    }
    const W: Waiter = Waiter::Async;
    wait_in!(inst, "[method]socket.accept", |v, s: Resource<Socket>| v
        .accept_with(W, s));
    wait_in!(
        inst,
        "[method]socket.connect",
        |v, s: Resource<Socket>, a: SockAddress| v.connect_with(W, s, a)
    );
    wait_in!(
        inst,
        "[method]socket.connect-ex",
        |v, s: Resource<Socket>, a: SockAddress| async {
            connect_ex_result(v.connect_with(W, s, a).await)
        }
    );
    wait_in!(
        inst,
        "[method]socket.sendto",
        |v, s: Resource<Socket>, d: Vec<u8>, f: MsgFlags, a: SockAddress| v
            .sendto_with(W, s, d, f, a)
    );
    wait_in!(
        inst,
        "[method]socket.recvfrom",
        |v, s: Resource<Socket>, n: u64, f: MsgFlags| async {
            v.recvmsg_with(W, s, n, f)
                .await
                .map(|m| (m.data, m.address))
        }
    );
    wait_in!(
        inst,
        "[method]socket.sendmsg",
        |v, s: Resource<Socket>, b: Vec<Vec<u8>>, f: MsgFlags, a: Option<SockAddress>| v
            .sendmsg_with(W, s, b, f, a)
    );
    wait_in!(
        inst,
        "[method]socket.recvmsg",
        |v, s: Resource<Socket>, n: u64, f: MsgFlags| v.recvmsg_with(W, s, n, f)
    );
    wait_in!(
        inst,
        "[method]socket.send-fds",
        |v,
         s: Resource<Socket>,
         b: Vec<Vec<u8>>,
         fds: Vec<sync::FdToSend>,
         f: MsgFlags,
         a: Option<SockAddress>| async { v.send_fds(W, &s, &b, &fds, f, a.as_ref()).await }
    );
    wait_in!(
        inst,
        "[method]socket.recv-fds",
        |v, s: Resource<Socket>, n: u64, m: u32, f: MsgFlags| async {
            v.recv_fds(W, &s, n, m, f).await
        }
    );
    wait_in!(
        inst,
        "[method]socket.sendfile",
        |v, s: Resource<Socket>, file: Resource<Descriptor>, o: u64, c: Option<u64>| async {
            v.sendfile(W, &s, &file, o, c).await
        }
    );
    wait_in!(
        inst,
        "[method]socket-io.read",
        |v, io: Resource<SocketIo>, n: u64| v.read_with(W, io, n)
    );
    wait_in!(
        inst,
        "[method]socket-io.write",
        |v, io: Resource<SocketIo>, d: Vec<u8>| v.write_with(W, io, d)
    );
    let mut netdb = linker.instance(NETDB_INTERFACE)?;
    wait_in!(
        netdb,
        "getaddrinfo",
        |v,
         host: Option<String>,
         port: Option<String>,
         family: AddressFamily,
         kind: Option<SocketKind>,
         proto: i32,
         flags: AddrInfoFlags| v
            .getaddrinfo_with(W, host, port, family, kind, proto, flags)
    );
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
                    .create_connection_with(W, host, port, timeout, source, all)
                    .await?;
                Ok((r,))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
