//! The fronts: WIT worlds adapted onto the core. Each translates WIT values into the core's
//! operations and back; none holds an operation of its own.
//!
//! - [`bindings`] and `sync`: the synchronous host (`add_to_linker_sync`);
//! - `async_host`: the async host, bindings of its own with per-function `async`;
//! - `fast`: the zero-copy `send`/`sendall`/`recv` of both;
//! - `poll`: the synchronous host's `wasi:io/poll`, which waits on sockbox pollables on the
//!   calling thread (`fast` and `poll` shadow imports already in the linker).

pub(crate) mod async_host;
pub(crate) mod fast;
mod poll;
mod sync;
pub(crate) mod wasi;

/// Host bindings generated from `wit/` (world `sockbox:socket/imports`); the WIT documents
/// each item.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "sockbox:socket/imports",
        imports: { default: trappable },
        with: {
            "wasi": wasmtime_wasi::p2::bindings::sync,
            "sockbox:socket/types": crate::core::types,
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

use wasmtime::component::{HasData, Linker};

use crate::core::ctx::{SocketCtxView, SocketView};

/// Marks the data the generated bindings reach through [`SocketView::socket_ctx`].
pub(crate) struct HasSockets;

impl HasData for HasSockets {
    type Data<'a> = SocketCtxView<'a>;
}

/// Adds every `sockbox:socket` interface to `linker`, for synchronous embeddings.
///
/// Link wasi first (`wasmtime_wasi::p2::add_to_linker_sync`) if the guest also imports wasi,
/// as every `wasm32-wasip2` program does: this replaces wasmtime-wasi's `wasi:io/poll`, the
/// `blocking-*` calls of `wasi:io/streams` and `subscribe-duration` with the same calls waiting
/// on sockbox's pollables in poll(2) on the calling thread instead of on wasmtime-wasi's tokio
/// runtime (a wait on anything else still goes on there).
pub fn add_to_linker_sync<T: SocketView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    add_interfaces_sync(linker)?;
    poll::add_to_linker_sync(linker)
}

/// The `sockbox:socket` interfaces of the synchronous host, leaving `wasi:io/poll` as it is.
pub(crate) fn add_interfaces_sync<T: SocketView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    use bindings::sockbox::socket as s;
    s::types::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    s::socket::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    s::helpers::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    s::preopens::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    s::netdb::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    s::tls::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    fast::add_to_linker_sync(linker)
}
