//! Errors: what the guest sees (`types.error`) versus host failures that trap.

use std::fmt;
use std::io;

use crate::core::types::{Errno, Error, GaiCode, GaiError, HCode, HError, OsError, PolicyDenial};

pub use crate::core::types::SocketError;
use crate::core::types::SocketErrorRepr as Repr;

impl SocketError {
    /// An OS error with this errno and message.
    pub fn os(code: Errno, message: impl Into<String>) -> Self {
        SocketError(Repr::Guest(Error::Os(OsError {
            code,
            message: message.into(),
        })))
    }

    /// An OS error with this errno and the OS's message for it.
    pub fn errno(code: Errno) -> Self {
        let message = match errno_to_raw(code) {
            Some(raw) => strerror(raw),
            None => "Unknown error".to_string(),
        };
        Self::os(code, message)
    }

    /// A socket timeout (`TimeoutError('timed out')`).
    pub fn timeout() -> Self {
        SocketError(Repr::Guest(Error::Timeout))
    }

    /// A lookup failure.
    pub fn gai(code: GaiCode, message: impl Into<String>) -> Self {
        SocketError(Repr::Guest(Error::Gai(GaiError {
            code,
            message: message.into(),
        })))
    }

    /// An old-style resolver error (`socket.herror`).
    pub fn h(code: HCode, message: impl Into<String>) -> Self {
        SocketError(Repr::Guest(Error::H(HError {
            code,
            message: message.into(),
        })))
    }

    /// A bad argument (Python's `ValueError`).
    pub fn value(message: impl Into<String>) -> Self {
        SocketError(Repr::Guest(Error::Value(message.into())))
    }

    /// A policy denial.
    pub fn denied(denial: PolicyDenial) -> Self {
        SocketError(Repr::Guest(Error::Denied(denial)))
    }

    /// A guest-visible error as it is.
    pub(crate) fn from_guest(e: Error) -> Self {
        SocketError(Repr::Guest(e))
    }

    /// A host failure: traps the guest.
    pub fn trap(err: impl Into<wasmtime::Error>) -> Self {
        SocketError(Repr::Trap(err.into()))
    }

    /// The guest-visible error, or `None` for a trap.
    pub fn as_guest(&self) -> Option<&Error> {
        match &self.0 {
            Repr::Guest(e) => Some(e),
            Repr::Trap(_) => None,
        }
    }

    /// The errno of an OS error.
    pub fn errno_code(&self) -> Option<Errno> {
        match &self.0 {
            Repr::Guest(Error::Os(e)) => Some(e.code),
            _ => None,
        }
    }

    /// Splits into the guest error (`Ok`) or the trap (`Err`): what `convert_error` needs.
    pub(crate) fn into_guest(self) -> wasmtime::Result<Error> {
        match self.0 {
            Repr::Guest(e) => Ok(e),
            Repr::Trap(e) => Err(e),
        }
    }
}

impl From<io::Error> for SocketError {
    fn from(err: io::Error) -> Self {
        match err.raw_os_error() {
            Some(raw) => SocketError::os(errno_from_raw(raw), strerror(raw)),
            // Errors std makes without an errno (invalid input in a conversion, say).
            None => SocketError::os(Errno::Invalid, err.to_string()),
        }
    }
}

impl From<rustix::io::Errno> for SocketError {
    fn from(err: rustix::io::Errno) -> Self {
        io::Error::from(err).into()
    }
}

impl From<wasmtime::component::ResourceTableError> for SocketError {
    fn from(err: wasmtime::component::ResourceTableError) -> Self {
        SocketError::trap(err)
    }
}

impl fmt::Debug for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Guest(e) => write!(f, "{e:?}"),
            Repr::Trap(e) => write!(f, "trap: {e:?}"),
        }
    }
}

impl fmt::Display for SocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Guest(Error::Os(e)) => write!(f, "[{:?}] {}", e.code, e.message),
            Repr::Guest(Error::Timeout) => f.write_str("timed out"),
            Repr::Guest(Error::Gai(e)) => write!(f, "{}", e.message),
            Repr::Guest(Error::H(e)) => write!(f, "{}", e.message),
            Repr::Guest(Error::Denied(d)) => f.write_str(&d.message),
            Repr::Guest(Error::Value(m)) => f.write_str(m),
            Repr::Guest(Error::Tls(e)) => write!(f, "[{:?}] {}", e.code, e.message),
            Repr::Trap(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SocketError {}

/// The OS's message for `raw`, without std's " (os error N)" suffix.
fn strerror(raw: i32) -> String {
    let text = io::Error::from_raw_os_error(raw).to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// One table in both directions: errno name ↔ host number.
macro_rules! errno_table {
    ($($name:ident = $raw:ident,)*) => {
        /// The symbolic errno of a host errno number (`other` when it has no name).
        pub(crate) fn errno_from_raw(raw: i32) -> Errno {
            $(if raw == libc::$raw { return Errno::$name; })*
            Errno::Other
        }

        /// The host errno number of a symbolic errno.
        pub(crate) fn errno_to_raw(code: Errno) -> Option<i32> {
            match code {
                $(Errno::$name => Some(libc::$raw),)*
                Errno::Other => None,
            }
        }
    };
}

errno_table! {
    Access = EACCES,
    AddrInUse = EADDRINUSE,
    AddrNotAvailable = EADDRNOTAVAIL,
    AddressFamilyNotSupported = EAFNOSUPPORT,
    Again = EAGAIN,
    Already = EALREADY,
    BadDescriptor = EBADF,
    Canceled = ECANCELED,
    ConnAborted = ECONNABORTED,
    ConnRefused = ECONNREFUSED,
    ConnReset = ECONNRESET,
    DestAddrRequired = EDESTADDRREQ,
    Exists = EEXIST,
    HostUnreachable = EHOSTUNREACH,
    InProgress = EINPROGRESS,
    Interrupted = EINTR,
    Invalid = EINVAL,
    Io = EIO,
    IsConn = EISCONN,
    MsgSize = EMSGSIZE,
    NameTooLong = ENAMETOOLONG,
    NetDown = ENETDOWN,
    NetReset = ENETRESET,
    NetUnreachable = ENETUNREACH,
    NoBufferSpace = ENOBUFS,
    NoEntry = ENOENT,
    NoMemory = ENOMEM,
    NoProtocolOption = ENOPROTOOPT,
    NotConn = ENOTCONN,
    NotSock = ENOTSOCK,
    NotSupported = EOPNOTSUPP,
    Permission = EPERM,
    Pipe = EPIPE,
    ProtocolNotSupported = EPROTONOSUPPORT,
    ProtocolType = EPROTOTYPE,
    SocketTypeNotSupported = ESOCKTNOSUPPORT,
    TimedOut = ETIMEDOUT,
    TooManyOpen = EMFILE,
    TooManyOpenSystem = ENFILE,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_errno_round_trips() {
        for raw in 1..200 {
            let code = errno_from_raw(raw);
            if code != Errno::Other {
                assert_eq!(errno_to_raw(code), Some(raw), "{code:?}");
            }
        }
        assert_eq!(errno_from_raw(libc::EWOULDBLOCK), Errno::Again);
        assert_eq!(strerror(libc::ECONNREFUSED), "Connection refused");
    }
}
