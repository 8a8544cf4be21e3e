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
//! // A guest that also imports wasi (every wasm32-wasip2 program): link it first,
//! // `wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?`, with a `WasiView` state.
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

mod core;
#[cfg(any(test, feature = "fuzz"))]
#[doc(hidden)]
pub mod fuzz;
pub mod plugin_files;
pub mod run;
mod wit;

pub use core::ctx::{SocketCtx, SocketCtxBuilder, SocketCtxView, SocketView};
pub use core::error::SocketError;
pub use core::limits::Limits;
pub use core::ops::fds::ReceivedFd;
pub use core::ops::io::SocketIo;
pub use core::ops::socket::Socket;
pub use core::ops::tls::{TlsEngine, TlsSocket};
pub use core::policy;
pub use core::policy::file as policy_file;
pub use core::policy::file::{PolicyFile, TlsFile};
pub use core::policy::{Policy, PolicyBuilder};
pub use core::resolver;
pub use core::share::ShareGroup;
pub use core::types;
pub use core::types::TlsVersion;
pub use core::wait::InterruptHandle;
pub use wit::async_host::add_to_linker_async;
pub use wit::wasi::add_wasi_sockets_to_linker;

/// `wasi:sockets` served by sockbox (see [`add_wasi_sockets_to_linker`]): its bindings and
/// resource types, for embedders that name them in bindings of their own.
pub mod wasi_sockets {
    pub use crate::wit::wasi::{
        IncomingDatagramStream, Network, OutgoingDatagramStream, ResolveAddressStream, TcpSocket,
        UdpSocket, WasiError, bindings,
    };
}
pub use wit::{add_to_linker_sync, bindings};
