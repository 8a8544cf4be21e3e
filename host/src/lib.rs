//! sockbox-host: CPython's `socket` module for WebAssembly guests, served by real OS sockets
//! inside a wasmtime embedding, behind a default-deny [`Policy`].
//!
//! Link it beside wasmtime-wasi and give your store data a [`SocketView`]:
//!
//! ```no_run
//! use sockbox_host::{Policy, SocketCtx, SocketCtxView, SocketView};
//! use wasmtime::component::{Linker, ResourceTable};
//!
//! struct State { table: ResourceTable, sockets: SocketCtx }
//! impl SocketView for State {
//!     fn socket_ctx(&mut self) -> SocketCtxView<'_> {
//!         SocketCtxView { ctx: &mut self.sockets, table: &mut self.table }
//!     }
//! }
//!
//! # fn main() -> wasmtime::Result<()> {
//! let engine = wasmtime::Engine::default();
//! let mut linker = Linker::<State>::new(&engine);
//! sockbox_host::add_to_linker_sync(&mut linker)?;
//! let policy = Policy::builder().allow_connect("127.0.0.1:5432")?.build();
//! let state = State { table: ResourceTable::new(), sockets: SocketCtx::builder().policy(policy).build()? };
//! # let _ = state; Ok(()) }
//! ```
//!
//! Every OS socket is non-blocking and close-on-exec; a guest's blocking mode and timeout are
//! host state, and a blocked call waits in `poll(2)` on its socket and the instance's
//! [`InterruptHandle`] (see [`SocketCtx::interrupt_handle`]). Tokio embedders use
//! [`add_to_linker_async`] instead: a waiting call then suspends the guest, not the thread.
//! Policies come from [`Policy::builder`] or a TOML [`PolicyFile`]; limits from [`Limits`].
#![deny(missing_docs)]

mod addr;
mod async_host;
mod ctx;
mod error;
mod fast;
#[cfg(feature = "fuzz")]
#[doc(hidden)]
pub mod fuzz;
mod helpers;
mod ifaces;
mod io;
mod netdb;
pub mod policy;
pub mod policy_file;
mod poll;
mod preopens;
mod reactor;
pub mod run;
mod share;
mod socket;
mod sockopt;
pub mod types;
mod unix;
mod wait;

pub use async_host::add_to_linker_async;
pub use ctx::{Limits, SocketCtx, SocketCtxBuilder, SocketCtxView, SocketView};
pub use error::SocketError;
pub use io::SocketIo;
pub use policy::{Policy, PolicyBuilder};
pub use policy_file::PolicyFile;
pub use share::ShareGroup;
pub use socket::Socket;
pub use unix::ReceivedFd;
pub use wait::InterruptHandle;

/// Host bindings generated from `wit/` (world `sockbox:socket/imports`); the WIT documents
/// each item.
#[allow(missing_docs)]
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sockbox:socket/imports",
        imports: { default: trappable },
        with: {
            "wasi": wasmtime_wasi::p2::bindings::sync,
            "sockbox:socket/types": crate::types,
            "sockbox:socket/socket.socket": crate::socket::Socket,
            "sockbox:socket/socket.socket-io": crate::io::SocketIo,
            "sockbox:socket/socket.received-fd": crate::unix::ReceivedFd,
        },
        trappable_error_type: {
            "sockbox:socket/types.error" => crate::error::SocketError,
        },
        require_store_data_send: true,
    });
}

use wasmtime::component::{HasData, Linker};

/// Marks the data the generated bindings reach through [`SocketView::socket_ctx`].
pub(crate) struct HasSockets;

impl HasData for HasSockets {
    type Data<'a> = SocketCtxView<'a>;
}

/// Adds every `sockbox:socket` interface to `linker`, for synchronous embeddings.
///
/// Link wasi first (`wasmtime_wasi::p2::add_to_linker_sync`) if the guest also imports wasi,
/// as every `wasm32-wasip2` program does.
pub fn add_to_linker_sync<T: SocketView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    use bindings::sockbox::socket as s;
    s::types::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    s::socket::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    s::helpers::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    s::preopens::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    s::netdb::add_to_linker::<T, HasSockets>(linker, T::socket_ctx)?;
    fast::add_to_linker_sync(linker)?;
    Ok(())
}
