//! The core: every socket operation and every policy check, written once, in the value types
//! of the resource-free world `sockbox:socket/values` ([`types`]). It knows neither the WIT
//! bindings nor which host drives it: a waiting operation is an `async fn` that waits through
//! a [`wait::Waiter`].

pub(crate) mod addr;
pub(crate) mod closer;
pub(crate) mod ctx;
pub(crate) mod error;
pub(crate) mod ifaces;
pub(crate) mod limits;
pub(crate) mod ops;
pub mod policy;
pub(crate) mod reactor;
pub mod resolver;
pub(crate) mod share;
pub mod types;
pub(crate) mod wait;
pub(crate) mod wait_set;
