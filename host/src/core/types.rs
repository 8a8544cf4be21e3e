//! The value types of `sockbox:socket/types` (errno, errors, addresses, flags, options,
//! messages), generated from the resource-free world `sockbox:socket/values`. The operations
//! are written in these; both of the host's bindings, synchronous and async, map them in with
//! `with:`, so one Rust type serves both.
#![allow(missing_docs)]

mod generated {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "sockbox:socket/values",
        trappable_error_type: {
            "sockbox:socket/types.error" => super::SocketError,
        },
    });
}

pub use generated::sockbox::socket::types::*;

/// The error of every sockbox host call (its constructors and conversions are in `error`).
///
/// A guest-visible error (an OS errno, a timeout, a lookup failure, a policy denial) reaches the
/// guest as `types.error`; anything else (a host bug, a broken resource table) traps the
/// instance instead, so a guest can never observe host internals.
pub struct SocketError(pub(crate) SocketErrorRepr);

/// What a [`SocketError`] holds.
pub(crate) enum SocketErrorRepr {
    /// An error the guest sees.
    Guest(Error),
    /// A host failure: traps the instance.
    Trap(wasmtime::Error),
}
