//! [`Error`]: what a sockbox call fails with, shaped like Python's socket exceptions.

use std::fmt;
use std::io;

use crate::bindings::sockbox::socket::types as wit;
use crate::tls::TlsErrorCode;
use crate::{Errno, GaiCode, HCode, PolicyDenial};

/// A sockbox result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a sockbox call failed. Each variant is one of Python's socket exceptions.
#[derive(Clone)]
#[non_exhaustive]
pub enum Error {
    /// `OSError(errno, message)` and its subclasses (`ConnectionRefusedError`, ...).
    Os {
        /// The error number, by name ([`Errno::raw`] gives this platform's number).
        errno: Errno,
        /// The host's message.
        message: String,
    },
    /// `TimeoutError('timed out')`: the socket's timeout expired.
    Timeout,
    /// `socket.gaierror`: a name lookup failed.
    Gai {
        /// The `EAI_*` kind.
        code: GaiCode,
        /// The resolver's message.
        message: String,
    },
    /// `socket.herror`: an old-style resolver error.
    Herror {
        /// The `h_errno` kind.
        code: HCode,
        /// The resolver's message.
        message: String,
    },
    /// `PermissionError`: the host's policy refused the operation; the denial names the rule
    /// that would allow it.
    Denied(PolicyDenial),
    /// `ValueError` / `OverflowError`: a bad argument.
    Value(String),
    /// `ExceptionGroup`: every attempt's error, in order (`create_connection(all_errors)`).
    Group(Vec<Error>),
    /// `ssl.SSLError` and its subclasses: a TLS failure.
    Tls {
        /// Which (`SSLCertVerificationError`, `SSLZeroReturnError`, `SSLEOFError`, `SSLError`).
        code: TlsErrorCode,
        /// The host's message.
        message: String,
    },
}

impl Error {
    /// The errno this error carries, if it is an OS error with one (or a denial: `access`).
    pub fn errno(&self) -> Option<Errno> {
        match self {
            // An OSError without an errno (socket.py's "service/proto not found", say).
            Error::Os {
                errno: Errno::Other,
                ..
            } => None,
            Error::Os { errno, .. } => Some(*errno),
            Error::Denied(_) => Some(Errno::Access),
            _ => None,
        }
    }

    /// The name of the Python exception this error is.
    pub fn python_name(&self) -> &'static str {
        match self {
            Error::Os { errno, .. } => match errno {
                Errno::Again | Errno::Already | Errno::InProgress => "BlockingIOError",
                Errno::ConnRefused => "ConnectionRefusedError",
                Errno::ConnReset => "ConnectionResetError",
                Errno::ConnAborted => "ConnectionAbortedError",
                Errno::Pipe => "BrokenPipeError",
                Errno::Exists => "FileExistsError",
                Errno::NoEntry => "FileNotFoundError",
                Errno::Interrupted => "InterruptedError",
                Errno::Canceled => "OSError",
                Errno::Access | Errno::Permission => "PermissionError",
                Errno::TimedOut => "TimeoutError",
                _ => "OSError",
            },
            Error::Timeout => "TimeoutError",
            Error::Gai { .. } => "gaierror",
            Error::Herror { .. } => "herror",
            Error::Denied(_) => "PermissionError",
            Error::Value(_) => "ValueError",
            Error::Group(_) => "ExceptionGroup",
            Error::Tls { code, .. } => match code {
                TlsErrorCode::CertVerification => "SSLCertVerificationError",
                TlsErrorCode::ZeroReturn => "SSLZeroReturnError",
                TlsErrorCode::Eof => "SSLEOFError",
                TlsErrorCode::Protocol => "SSLError",
            },
        }
    }

    pub(crate) fn value(message: impl Into<String>) -> Self {
        Error::Value(message.into())
    }

    fn message(&self) -> &str {
        match self {
            Error::Os { message, .. }
            | Error::Gai { message, .. }
            | Error::Herror { message, .. }
            | Error::Value(message)
            | Error::Tls { message, .. } => message,
            Error::Timeout => "timed out",
            Error::Denied(d) => &d.message,
            Error::Group(_) => "create_connection failed",
        }
    }
}

impl From<wit::Error> for Error {
    fn from(e: wit::Error) -> Self {
        match e {
            wit::Error::Os(o) => Error::Os {
                errno: o.code,
                message: o.message,
            },
            wit::Error::Timeout => Error::Timeout,
            wit::Error::Gai(g) => Error::Gai {
                code: g.code,
                message: g.message,
            },
            wit::Error::H(h) => Error::Herror {
                code: h.code,
                message: h.message,
            },
            wit::Error::Denied(d) => Error::Denied(d),
            wit::Error::Value(m) => Error::Value(m),
            wit::Error::Tls(t) => Error::Tls {
                code: t.code,
                message: t.message,
            },
        }
    }
}

/// Like Python's `str(exc)`: `[Errno 14] Connection refused`, `timed out`.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.errno()) {
            (Error::Group(errors), _) => {
                write!(f, "{} ({} sub-exceptions)", self.message(), errors.len())
            }
            (_, Some(errno)) => write!(f, "[Errno {}] {}", errno.raw(), self.message()),
            (_, None) => f.write_str(self.message()),
        }
    }
}

/// Like Python's `repr(exc)`: `ConnectionRefusedError(14, 'Connection refused')`.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.python_name();
        if let Error::Group(errors) = self {
            return write!(f, "{name}({:?}, {errors:?})", self.message());
        }
        match self.errno() {
            Some(errno) => write!(f, "{name}({}, {:?})", errno.raw(), self.message()),
            None => write!(f, "{name}({:?})", self.message()),
        }
    }
}

impl std::error::Error for Error {}

/// OS errors become `io::Error::from_raw_os_error` with this platform's errno (so
/// `raw_os_error()` and `kind()` are what std would give); the rest keep the sockbox error
/// inside (`get_ref()`), with the matching [`io::ErrorKind`].
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::Os {
                errno: Errno::Other,
                ..
            } => io::ErrorKind::Other,
            Error::Os { errno, .. } => return io::Error::from_raw_os_error(errno.raw()),
            Error::Timeout => io::ErrorKind::TimedOut,
            Error::Denied(_) => io::ErrorKind::PermissionDenied,
            Error::Value(_) => io::ErrorKind::InvalidInput,
            Error::Gai { .. } | Error::Herror { .. } | Error::Group(_) | Error::Tls { .. } => {
                io::ErrorKind::Other
            }
        };
        io::Error::new(kind, e)
    }
}

/// This platform's errno numbers (wasi-libc's on `wasm32-wasip2`).
#[cfg(target_os = "wasi")]
mod sys {
    /// wasi-libc has no ESOCKTNOSUPPORT; it reports ENOTSUP there.
    pub(super) const ESOCKTNOSUPPORT: i32 = libc::ENOTSUP;
}
#[cfg(not(target_os = "wasi"))]
mod sys {
    pub(super) const ESOCKTNOSUPPORT: i32 = libc::ESOCKTNOSUPPORT;
}

impl Errno {
    /// This platform's errno number for this error (wasi-libc's numbering on
    /// `wasm32-wasip2`); `other` maps to EIO.
    pub fn raw(self) -> i32 {
        match self {
            Errno::Access => libc::EACCES,
            Errno::AddrInUse => libc::EADDRINUSE,
            Errno::AddrNotAvailable => libc::EADDRNOTAVAIL,
            Errno::AddressFamilyNotSupported => libc::EAFNOSUPPORT,
            Errno::Again => libc::EAGAIN,
            Errno::Already => libc::EALREADY,
            Errno::BadDescriptor => libc::EBADF,
            Errno::Canceled => libc::ECANCELED,
            Errno::ConnAborted => libc::ECONNABORTED,
            Errno::ConnRefused => libc::ECONNREFUSED,
            Errno::ConnReset => libc::ECONNRESET,
            Errno::DestAddrRequired => libc::EDESTADDRREQ,
            Errno::Exists => libc::EEXIST,
            Errno::HostUnreachable => libc::EHOSTUNREACH,
            Errno::InProgress => libc::EINPROGRESS,
            Errno::Interrupted => libc::EINTR,
            Errno::Invalid => libc::EINVAL,
            Errno::Io | Errno::Other => libc::EIO,
            Errno::IsConn => libc::EISCONN,
            Errno::MsgSize => libc::EMSGSIZE,
            Errno::NameTooLong => libc::ENAMETOOLONG,
            Errno::NetDown => libc::ENETDOWN,
            Errno::NetReset => libc::ENETRESET,
            Errno::NetUnreachable => libc::ENETUNREACH,
            Errno::NoBufferSpace => libc::ENOBUFS,
            Errno::NoEntry => libc::ENOENT,
            Errno::NoMemory => libc::ENOMEM,
            Errno::NoProtocolOption => libc::ENOPROTOOPT,
            Errno::NotConn => libc::ENOTCONN,
            Errno::NotSock => libc::ENOTSOCK,
            Errno::NotSupported => libc::EOPNOTSUPP,
            Errno::Permission => libc::EPERM,
            Errno::Pipe => libc::EPIPE,
            Errno::ProtocolNotSupported => libc::EPROTONOSUPPORT,
            Errno::ProtocolType => libc::EPROTOTYPE,
            Errno::SocketTypeNotSupported => sys::ESOCKTNOSUPPORT,
            Errno::TimedOut => libc::ETIMEDOUT,
            Errno::TooManyOpen => libc::EMFILE,
            Errno::TooManyOpenSystem => libc::ENFILE,
        }
    }
}

impl Errno {
    /// The C library's message for this error (socket.py's `errorTab` idea, for every errno).
    pub fn message(self) -> &'static str {
        match self {
            Errno::Access => "Permission denied",
            Errno::AddrInUse => "Address already in use",
            Errno::AddrNotAvailable => "Cannot assign requested address",
            Errno::AddressFamilyNotSupported => "Address family not supported by protocol",
            Errno::Again => "Resource temporarily unavailable",
            Errno::Already => "Operation already in progress",
            Errno::BadDescriptor => "Bad file descriptor",
            Errno::Canceled => "Operation canceled",
            Errno::ConnAborted => "Software caused connection abort",
            Errno::ConnRefused => "Connection refused",
            Errno::ConnReset => "Connection reset by peer",
            Errno::DestAddrRequired => "Destination address required",
            Errno::Exists => "File exists",
            Errno::HostUnreachable => "No route to host",
            Errno::InProgress => "Operation now in progress",
            Errno::Interrupted => "Interrupted system call",
            Errno::Invalid => "Invalid argument",
            Errno::Io => "Input/output error",
            Errno::IsConn => "Transport endpoint is already connected",
            Errno::MsgSize => "Message too long",
            Errno::NameTooLong => "File name too long",
            Errno::NetDown => "Network is down",
            Errno::NetReset => "Network dropped connection on reset",
            Errno::NetUnreachable => "Network is unreachable",
            Errno::NoBufferSpace => "No buffer space available",
            Errno::NoEntry => "No such file or directory",
            Errno::NoMemory => "Cannot allocate memory",
            Errno::NoProtocolOption => "Protocol not available",
            Errno::NotConn => "Transport endpoint is not connected",
            Errno::NotSock => "Socket operation on non-socket",
            Errno::NotSupported => "Operation not supported",
            Errno::Permission => "Operation not permitted",
            Errno::Pipe => "Broken pipe",
            Errno::ProtocolNotSupported => "Protocol not supported",
            Errno::ProtocolType => "Protocol wrong type for socket",
            Errno::SocketTypeNotSupported => "Socket type not supported",
            Errno::TimedOut => "Connection timed out",
            Errno::TooManyOpen => "Too many open files",
            Errno::TooManyOpenSystem => "Too many open files in system",
            Errno::Other => "Unknown error",
        }
    }
}
