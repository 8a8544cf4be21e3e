//! TLS, served by the host: [`TlsStream::connect`] turns a connected stream [`Socket`] into a
//! TLS client connection (Python's `SSLContext.wrap_socket`). The TLS stack and the trust
//! roots are the host's (Mozilla's by default, plus what the embedder adds); the plugin ships
//! neither. Timeouts, non-blocking mode and interrupts are the socket's.
//!
//! ```no_run
//! use std::io::{Read, Write};
//! let sock = sockbox::create_connection(("example.com", 443)).connect()?;
//! let mut tls = sockbox::tls::TlsStream::connect(sock, &sockbox::tls::ClientOptions::new("example.com"))?;
//! tls.write_all(b"GET / HTTP/1.0\r\nHost: example.com\r\n\r\n")?;
//! let mut page = Vec::new();
//! tls.read_to_end(&mut page)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;

use crate::bindings::sockbox::socket::tls as wit;
pub use crate::bindings::sockbox::socket::types::{
    ClientAuth, Credential, PemCredential, ServerOptions, TlsErrorCode, TlsVersion, TlsVersions,
    VerifyMode,
};
use crate::{Result, Socket};

/// A TLS client's settings (`ssl.create_default_context()`, then `wrap_socket`'s).
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The name sent in SNI and checked against the certificate (`server_hostname`).
    pub server_name: String,
    /// ALPN protocols to offer, most preferred first (`set_alpn_protocols`).
    pub alpn: Vec<String>,
    /// How the certificate is checked (default [`VerifyMode::Full`]).
    pub verify: VerifyMode,
    /// More trust anchors, PEM (`load_verify_locations(cadata=)`).
    pub extra_roots_pem: Option<Vec<u8>>,
    /// A client certificate, sent when the server asks (`load_cert_chain` on a client
    /// context): PEM the plugin holds, or a credential the host named.
    pub credential: Option<Credential>,
    /// The TLS versions it may speak (`minimum_version`, `maximum_version`; default 1.2 to
    /// 1.3); the host may allow fewer.
    pub versions: TlsVersions,
}

impl ClientOptions {
    /// Full verification of `server_name`'s certificate against the host's roots.
    pub fn new(server_name: impl Into<String>) -> Self {
        ClientOptions {
            server_name: server_name.into(),
            alpn: Vec::new(),
            verify: VerifyMode::Full,
            extra_roots_pem: None,
            credential: None,
            versions: TlsVersions {
                min: TlsVersion::Tls12,
                max: TlsVersion::Tls13,
            },
        }
    }

    /// As the WIT's record.
    fn to_wit(&self) -> crate::bindings::sockbox::socket::types::ClientOptions {
        crate::bindings::sockbox::socket::types::ClientOptions {
            server_name: self.server_name.clone(),
            alpn: self.alpn.clone(),
            verify: self.verify,
            extra_roots_pem: self.extra_roots_pem.clone(),
            credential: self.credential.clone(),
            versions: self.versions,
        }
    }
}

/// A TLS client connection (`ssl.SSLSocket`); `Read` and `Write` move plaintext. It owns the
/// socket it runs over ([`socket`](Self::socket) reaches it: its timeout is the session's).
#[derive(Debug)]
pub struct TlsStream {
    raw: wit::TlsSocket,
    sock: Socket,
}

impl TlsStream {
    /// `wrap_socket(sock, server_hostname=...)` and the handshake, within the socket's
    /// timeout. The socket lives on inside ([`unwrap`](Self::unwrap) gives it back).
    ///
    /// # Errors
    /// [`Error::Tls`](crate::Error::Tls) (`SSLCertVerificationError` for a refused certificate), a timeout, OS
    /// errors; `PermissionError` for [`VerifyMode::None`] unless the host allows it;
    /// `ValueError` for a socket that is not a connected stream.
    pub fn connect(sock: Socket, options: &ClientOptions) -> Result<TlsStream> {
        let raw = wit::TlsSocket::connect(sock.raw(), &options.to_wit())?;
        Ok(TlsStream { raw, sock })
    }

    /// `wrap_socket(sock, server_side=True)` on an accepted socket: the server's handshake,
    /// within the socket's timeout, with the certificate and key of `options.credential` (PEM
    /// the plugin holds, or a credential the host named, whose key the plugin never sees).
    ///
    /// # Errors
    /// As [`connect`](Self::connect); `ValueError` for bad PEM or an unknown credential name.
    pub fn accept(sock: Socket, options: &ServerOptions) -> Result<TlsStream> {
        let raw = wit::TlsSocket::accept(sock.raw(), options)?;
        Ok(TlsStream { raw, sock })
    }

    /// `wrap_socket(sock, server_hostname=..., do_handshake_on_connect=False)`: a client
    /// session with no handshake yet; [`handshake`](Self::handshake) runs it (for
    /// non-blocking sockets).
    ///
    /// # Errors
    /// `ValueError` for a socket that is not a connected stream or bad options.
    pub fn client(sock: Socket, options: &ClientOptions) -> Result<TlsStream> {
        let raw = wit::TlsSocket::client(sock.raw(), &options.to_wit())?;
        Ok(TlsStream { raw, sock })
    }

    /// As [`client`](Self::client), for a server session on an accepted socket.
    ///
    /// # Errors
    /// As [`client`](Self::client); `ValueError` for bad PEM or an unknown credential name.
    pub fn server(sock: Socket, options: &ServerOptions) -> Result<TlsStream> {
        let raw = wit::TlsSocket::server(sock.raw(), options)?;
        Ok(TlsStream { raw, sock })
    }

    /// `do_handshake()`: the handshake, as far as the socket's mode lets it; done already,
    /// nothing to do.
    ///
    /// # Errors
    /// On a non-blocking socket, `BlockingIOError` (EAGAIN) until it is done:
    /// [`wants_write`](Self::wants_write) says whether to wait to write or to read. As
    /// [`connect`](Self::connect) otherwise.
    pub fn handshake(&self) -> Result<()> {
        Ok(self.raw.handshake()?)
    }

    /// Whether the session has records the socket did not take yet (wait to write, not to
    /// read).
    pub fn wants_write(&self) -> bool {
        self.raw.wants_write()
    }

    /// `send(data)`: how much of `data` went.
    ///
    /// # Errors
    /// As `Socket::send`, and [`Error::Tls`](crate::Error::Tls).
    pub fn send(&self, data: &[u8]) -> Result<usize> {
        Ok(self.raw.send(data)? as usize)
    }

    /// `sendall(data)`.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn sendall(&self, data: &[u8]) -> Result<()> {
        Ok(self.raw.sendall(data)?)
    }

    /// `recv(bufsize)`: plaintext; empty once the server ended the session (close_notify).
    ///
    /// # Errors
    /// As `Socket::recv`; [`Error::Tls`](crate::Error::Tls) with `Eof` when the connection ended without
    /// close_notify.
    pub fn recv(&self, bufsize: usize) -> Result<Vec<u8>> {
        Ok(self.raw.recv(bufsize as u64)?)
    }

    /// `pending()`: plaintext decrypted and not read yet, which [`recv`](Self::recv) returns
    /// without waiting (readiness sees the socket, not this).
    pub fn pending(&self) -> usize {
        self.raw.pending() as usize
    }

    /// `unwrap()`: ends the TLS session (close_notify) and gives back the plain socket.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub fn unwrap(self) -> Result<Socket> {
        wit::TlsSocket::unwrap(self.raw)?;
        Ok(self.sock)
    }

    /// The socket the session runs over (`settimeout`, `getpeername`, ...); reading or writing
    /// it around the session breaks the session.
    pub fn socket(&self) -> &Socket {
        &self.sock
    }

    /// `getpeercert(binary_form=True)`: the peer's certificate, DER (none from a client).
    pub fn peer_certificate(&self) -> Option<Vec<u8>> {
        self.raw.peer_certificate()
    }

    /// `version()`: `TLSv1.3` or `TLSv1.2`.
    pub fn version(&self) -> String {
        self.raw.version()
    }

    /// `cipher()[0]`: the cipher suite's IANA name.
    pub fn cipher(&self) -> String {
        self.raw.cipher()
    }

    /// `selected_alpn_protocol()`.
    pub fn alpn_protocol(&self) -> Option<String> {
        self.raw.alpn_protocol()
    }
}

impl io::Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl io::Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reading through a shared reference, as a socket's calls do (a reader and a writer can share
/// one session).
impl io::Read for &TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let data = self.recv(buf.len()).map_err(io::Error::from)?;
        buf[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }
}

/// Writing through a shared reference.
impl io::Write for &TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.send(buf).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The file [`TlsStream::makefile`] returns: buffered plaintext, readable (`Read`, `BufRead`)
/// and/or writable (`Write`) as its mode says. Dropping it flushes what it buffered.
#[derive(Debug)]
pub struct TlsFile<'a> {
    reader: Option<io::BufReader<&'a TlsStream>>,
    writer: Option<io::BufWriter<&'a TlsStream>>,
}

impl TlsStream {
    /// `makefile(mode)` (`SSLSocket.makefile`): a buffered file over the session, `"r"`,
    /// `"rb"`, `"w"`, `"wb"`, `"rw"`, `"rwb"`. Text and binary read the same bytes
    /// (`BufRead::lines` decodes UTF-8).
    ///
    /// # Errors
    /// [`Error::Value`](crate::Error::Value) for a bad mode.
    pub fn makefile(&self, mode: &str) -> Result<TlsFile<'_>> {
        if mode.is_empty() || !mode.chars().all(|c| matches!(c, 'r' | 'w' | 'b')) {
            return Err(crate::Error::value(format!(
                "invalid mode {mode:?} (only r, w, b allowed)"
            )));
        }
        let writing = mode.contains('w');
        let reading = mode.contains('r') || !writing;
        Ok(TlsFile {
            reader: reading.then(|| io::BufReader::with_capacity(64 << 10, self)),
            writer: writing.then(|| io::BufWriter::with_capacity(64 << 10, self)),
        })
    }
}

/// The error for a file used against its mode.
fn not_open_for(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("File not open for {what}"),
    )
}

impl io::Read for TlsFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader
            .as_mut()
            .ok_or_else(|| not_open_for("reading"))?
            .read(buf)
    }
}

impl io::BufRead for TlsFile<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader
            .as_mut()
            .ok_or_else(|| not_open_for("reading"))?
            .fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Some(r) = self.reader.as_mut() {
            r.consume(amount);
        }
    }
}

impl io::Write for TlsFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer
            .as_mut()
            .ok_or_else(|| not_open_for("writing"))?
            .write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}
