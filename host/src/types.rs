//! The value types of `sockbox:socket/types` (errno, errors, addresses, flags, options,
//! messages), generated from the resource-free world `sockbox:socket/values`. The operations
//! are written in these; both of the host's bindings, synchronous and async, map them in with
//! `with:`, so one Rust type serves both.
#![allow(missing_docs)]

mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "sockbox:socket/values",
        trappable_error_type: {
            "sockbox:socket/types.error" => crate::error::SocketError,
        },
    });
}

pub use generated::sockbox::socket::types::*;
