//! The operations, by area.

pub(crate) mod fds;
pub(crate) mod helpers;
pub(crate) mod io;
pub(crate) mod netdb;
pub(crate) mod poll;
pub(crate) mod socket;
pub(crate) mod sockopt;
pub(crate) mod tls;
pub(crate) mod unix_bind;
