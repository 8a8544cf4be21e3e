//! `tls`: TLS connections, client and server, over the guest's connected stream sockets, with
//! rustls in the host. The guest never holds the TLS stack or the trust roots (nor, with a
//! named credential, the server's key); it holds a `tls-socket` made from one of its sockets.
//! Every wait is the socket's: the same [`Waiter`], deadline and interrupt as a `recv` or `send`
//! on it.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, ClientConnection, Connection, DigitallySignedStruct, RootCertStore, ServerConfig,
    ServerConnection, SignatureScheme,
};
use wasmtime::component::Resource;

use crate::core::ctx::SocketCtxView;
use crate::core::error::SocketError;
use crate::core::ops::socket::{OsSocket, Socket, read_size, recv_now, send_flags};
use crate::core::types::{
    ClientAuth, ClientOptions, Credential, Errno, Error, MsgFlags, ServerOptions, SocketKind,
    TlsError, TlsErrorCode, TlsVersion, TlsVersions, VerifyMode,
};
use crate::core::wait::{Deadline, Interest, Waiter};

type Result<T, E = SocketError> = std::result::Result<T, E>;

/// The most plaintext one `send` hands rustls before writing it out.
const SEND_CHUNK: usize = 64 * 1024;

/// A TLS connection over a guest socket's OS socket (shared: the guest's socket object keeps
/// its timeout and its other calls).
pub struct TlsSocket {
    os: Arc<OsSocket>,
    conn: Connection,
}

impl std::fmt::Debug for TlsSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSocket").finish_non_exhaustive()
    }
}

/// The server credentials an embedder named.
pub(crate) type Credentials = Arc<std::collections::HashMap<String, Arc<KeyPair>>>;

/// The embedder's TLS settings: the trust roots, whether guests may turn verification off,
/// the oldest TLS version, and the credentials it named.
#[derive(Debug, Clone)]
pub(crate) struct TlsSettings {
    /// Mozilla's roots (webpki-roots), the system's if asked, and the embedder's own.
    pub(crate) roots: Arc<RootCertStore>,
    /// The embedder's own trust anchors (also in `roots`).
    pub(crate) extra_roots: Arc<[CertificateDer<'static>]>,
    pub(crate) allow_unverified: bool,
    pub(crate) min_version: TlsVersion,
    pub(crate) credentials: Credentials,
}

impl Default for TlsVersion {
    /// TLS 1.2 (and 1.3).
    fn default() -> Self {
        TlsVersion::Tls12
    }
}

impl std::str::FromStr for TlsVersion {
    type Err = String;

    /// `1.2` or `1.3`, as `--tls-min-version` and a policy file's `[tls] min_version` say it.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "1.2" => Ok(TlsVersion::Tls12),
            "1.3" => Ok(TlsVersion::Tls13),
            other => Err(format!("TLS version {other:?}: 1.2 or 1.3")),
        }
    }
}

impl TlsVersion {
    /// Older versions first.
    fn rank(self) -> u8 {
        match self {
            TlsVersion::Tls12 => 2,
            TlsVersion::Tls13 => 3,
        }
    }
}

impl std::fmt::Display for TlsVersion {
    /// As written: `1.2`, `1.3` (what [`FromStr`](std::str::FromStr) reads).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TlsVersion::Tls12 => "1.2",
            TlsVersion::Tls13 => "1.3",
        })
    }
}

/// The versions rustls may negotiate: what the guest asks for, from the host's oldest on.
///
/// # Errors
/// `value` when none is left.
fn allowed_versions(
    settings: &TlsSettings,
    asked: TlsVersions,
) -> Result<&'static [&'static rustls::SupportedProtocolVersion]> {
    static TLS12_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    let low = if asked.min.rank() < settings.min_version.rank() {
        settings.min_version
    } else {
        asked.min
    };
    match (low, asked.max) {
        (TlsVersion::Tls12, TlsVersion::Tls12) => Ok(&TLS12_ONLY),
        (TlsVersion::Tls12, TlsVersion::Tls13) => Ok(rustls::ALL_VERSIONS),
        (TlsVersion::Tls13, TlsVersion::Tls13) => Ok(&TLS13_ONLY),
        (TlsVersion::Tls13, TlsVersion::Tls12) => Err(SocketError::value(format!(
            "no TLS version left: the host allows TLS {} and newer, the guest at most TLS {}",
            settings.min_version, asked.max
        ))),
    }
}

/// A certificate chain and its private key (a server's, or a client's): WIT `credential`.
#[derive(Debug)]
pub(crate) struct KeyPair {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl KeyPair {
    /// From PEM: the chain (leaf first) and the key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    /// `value` for a chain without a certificate or PEM without a key.
    pub(crate) fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self> {
        let chain = certificates_from_pem(chain)?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| SocketError::value(format!("bad PEM private key: {e}")))?;
        Ok(KeyPair { chain, key })
    }
}

impl TlsSettings {
    /// Mozilla's roots, the system's when `system` (what it has: a store that cannot be read
    /// adds nothing), `extra` (PEM certificates) besides them, the switch, the oldest version,
    /// the credentials.
    pub(crate) fn new(
        extra: &[CertificateDer<'static>],
        system: bool,
        allow_unverified: bool,
        min_version: TlsVersion,
        credentials: Credentials,
    ) -> Self {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if system {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!("system TLS roots: {e}");
            }
            let _ = roots.add_parsable_certificates(found.certs);
        }
        let _ = roots.add_parsable_certificates(extra.iter().cloned());
        TlsSettings {
            roots: Arc::new(roots),
            extra_roots: extra.into(),
            allow_unverified,
            min_version,
            credentials,
        }
    }
}

/// Every certificate in `pem`.
///
/// # Errors
/// `value` when `pem` holds no certificate or a bad one.
pub(crate) fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| SocketError::value(format!("bad PEM certificate data: {e}")))?;
    if certs.is_empty() {
        return Err(SocketError::value("no certificate in the PEM data"));
    }
    Ok(certs)
}

/// A TLS failure of this kind.
fn tls_error(code: TlsErrorCode, message: impl Into<String>) -> SocketError {
    SocketError::from_guest(Error::Tls(TlsError {
        code,
        message: message.into(),
    }))
}

/// A rustls error as the guest's `tls` error.
fn from_rustls(e: rustls::Error) -> SocketError {
    let code = match &e {
        rustls::Error::InvalidCertificate(_) => TlsErrorCode::CertVerification,
        _ => TlsErrorCode::Protocol,
    };
    let message = match &e {
        rustls::Error::InvalidCertificate(c) => {
            format!("certificate verify failed: {}", verify_message(c))
        }
        e => e.to_string(),
    };
    tls_error(code, message)
}

/// Why a certificate was refused, in OpenSSL's words where it has them (what CPython's
/// `verify_message` says, and what programs match on).
fn verify_message(e: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    use rustls::pki_types::ServerName;
    match e {
        C::UnknownIssuer => "unable to get local issuer certificate".into(),
        C::Expired | C::ExpiredContext { .. } => "certificate has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "certificate is not yet valid".into(),
        C::Revoked => "certificate revoked".into(),
        C::BadSignature => "certificate signature failure".into(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "unsupported certificate purpose".into()
        }
        C::NotValidForNameContext {
            expected: ServerName::IpAddress(ip),
            ..
        } => {
            let ip = std::net::IpAddr::from(*ip);
            format!("IP address mismatch, certificate is not valid for '{ip}'.")
        }
        C::NotValidForNameContext { expected, .. } => {
            let name = expected.to_str();
            format!("Hostname mismatch, certificate is not valid for '{name}'.")
        }
        C::NotValidForName => "Hostname mismatch, certificate is not valid for the name.".into(),
        other => format!("{other:?}"),
    }
}

/// The socket under rustls, read and written as every socket call does: never blocking
/// (MSG_DONTWAIT) and raising no SIGPIPE.
struct Wire<'a>(&'a socket2::Socket);

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        recv_now(self.0, buf).map_err(io::Error::from)
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send_with_flags(buf, send_flags(MsgFlags::empty()))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How a client checks a server's certificate: a chain the roots vouch for, with or without
/// its name (`check_hostname`), or nothing at all (`CERT_NONE`). A certificate the guest or
/// the embedder trusts itself (a self-signed server certificate given as a trust anchor, as
/// `openssl req -x509` makes) is accepted as the end of its own chain, as OpenSSL does;
/// webpki alone refuses a CA certificate as an end entity.
#[derive(Debug)]
struct Verifier {
    /// `None`: no check at all.
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    /// Trust anchors given as PEM, matched byte for byte against the server's certificate.
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            // Trusted as it is (its key signs the handshake, which rustls checks); the name
            // still has to match. Its validity period is not checked.
            if self.check_name {
                let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
            }
            return Ok(ServerCertVerified::assertion());
        }
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// `roots` with `certs` added as trust anchors.
fn with_anchors(
    mut roots: RootCertStore,
    certs: &[CertificateDer<'static>],
) -> Result<Arc<RootCertStore>> {
    for cert in certs.iter().cloned() {
        roots
            .add(cert)
            .map_err(|e| SocketError::value(format!("bad trust anchor: {e}")))?;
    }
    Ok(Arc::new(roots))
}

/// The certificate chain and key `credential` stands for: PEM the guest gave, or the one the
/// embedder named.
fn key_pair(settings: &TlsSettings, credential: &Credential) -> Result<Arc<KeyPair>> {
    match credential {
        Credential::Pem(pem) => Ok(Arc::new(KeyPair::from_pem(&pem.chain, &pem.key)?)),
        Credential::Named(name) => settings.credentials.get(name).cloned().ok_or_else(|| {
            SocketError::value(format!(
                "no TLS credential named {name:?} (the embedder names them)"
            ))
        }),
    }
}

/// A certificate and key that do not go together.
fn mismatched(e: rustls::Error) -> SocketError {
    SocketError::value(format!("the certificate and key do not go together: {e}"))
}

/// The client configuration for `options` under the embedder's `settings`.
fn client_config(settings: &TlsSettings, options: &ClientOptions) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut pinned = settings.extra_roots.to_vec();
    let roots = match options.extra_roots_pem.as_deref() {
        None => Arc::clone(&settings.roots),
        Some(pem) => {
            let certs = certificates_from_pem(pem)?;
            let roots = with_anchors((*settings.roots).clone(), &certs)?;
            pinned.extend(certs);
            roots
        }
    };
    if options.verify == VerifyMode::None && !settings.allow_unverified {
        return Err(SocketError::os(
            Errno::Access,
            "Permission denied (the host does not allow TLS without certificate \
             verification; an embedder allows it with \
             SocketCtxBuilder::tls_allow_unverified, sockbox run with \
             --tls-allow-unverified)",
        ));
    }
    let chain = match options.verify {
        VerifyMode::None => None,
        VerifyMode::Full | VerifyMode::ChainOnly => Some(
            WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
                .build()
                .map_err(|e| SocketError::value(format!("trust roots: {e}")))?,
        ),
    };
    let verifier = Verifier {
        chain,
        check_name: options.verify == VerifyMode::Full,
        pinned,
        provider: Arc::clone(&provider),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(allowed_versions(settings, options.versions)?)
        .map_err(from_rustls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let mut config = match &options.credential {
        None => builder.with_no_client_auth(),
        Some(credential) => {
            let pair = key_pair(settings, credential)?;
            builder
                .with_client_auth_cert(pair.chain.clone(), pair.key.clone_key())
                .map_err(mismatched)?
        }
    };
    config.alpn_protocols = alpn(&options.alpn)?;
    Ok(config)
}

/// A client session for `options`, before its handshake.
fn client_connection(settings: &TlsSettings, options: &ClientOptions) -> Result<Connection> {
    let config = client_config(settings, options)?;
    let name = ServerName::try_from(options.server_name.clone())
        .map_err(|_| SocketError::value(format!("bad server name {:?}", options.server_name)))?;
    let conn = ClientConnection::new(Arc::new(config), name).map_err(from_rustls)?;
    Ok(conn.into())
}

/// A server session for `options`, before its handshake.
fn server_connection(settings: &TlsSettings, options: &ServerOptions) -> Result<Connection> {
    let config = server_config(settings, options)?;
    let conn = ServerConnection::new(Arc::new(config)).map_err(from_rustls)?;
    Ok(conn.into())
}

/// The plaintext `conn` has decrypted, at most `max` bytes, sized by what is there: `None` while
/// it needs more ciphertext, empty once the peer's close_notify arrived.
fn plaintext(conn: &mut Connection, max: usize) -> Result<Option<Vec<u8>>> {
    let state = conn.process_new_packets().map_err(from_rustls)?;
    let ready = state.plaintext_bytes_to_read();
    if ready > 0 || max == 0 {
        let mut buf = vec![0u8; ready.min(max)];
        let n = conn.reader().read(&mut buf)?;
        buf.truncate(n);
        return Ok(Some(buf));
    }
    Ok(state.peer_has_closed().then(Vec::new))
}

/// How much plaintext `conn` has decrypted and not handed out (0 after an error, which the
/// next read reports).
fn pending(conn: &mut Connection) -> u64 {
    conn.process_new_packets()
        .map_or(0, |state| state.plaintext_bytes_to_read() as u64)
}

/// The connection ended without close_notify.
fn unexpected_eof(why: &str) -> SocketError {
    tls_error(
        TlsErrorCode::Eof,
        format!("EOF occurred in violation of protocol{why}"),
    )
}

/// ALPN protocol names as rustls takes them.
fn alpn(names: &[String]) -> Result<Vec<Vec<u8>>> {
    names
        .iter()
        .map(|p| {
            if p.is_empty() || p.len() > 255 {
                Err(SocketError::value(
                    "ALPN protocols must be 1 to 255 bytes long",
                ))
            } else {
                Ok(p.clone().into_bytes())
            }
        })
        .collect()
}

/// The server configuration for `options` under the embedder's `settings`.
fn server_config(settings: &TlsSettings, options: &ServerOptions) -> Result<ServerConfig> {
    let pair = key_pair(settings, &options.credential)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(allowed_versions(settings, options.versions)?)
        .map_err(from_rustls)?;
    let builder = match options.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional | ClientAuth::Required => {
            // Only the guest's anchors when it gives some (as a server context with
            // `load_verify_locations` alone trusts): client certificates are a private CA's.
            let roots = match options.client_roots_pem.as_deref() {
                Some(pem) => with_anchors(RootCertStore::empty(), &certificates_from_pem(pem)?)?,
                None => Arc::clone(&settings.roots),
            };
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider);
            let verifier = match options.client_auth {
                ClientAuth::Optional => verifier.allow_unauthenticated(),
                _ => verifier,
            };
            let verifier = verifier
                .build()
                .map_err(|e| SocketError::value(format!("client trust roots: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(pair.chain.clone(), pair.key.clone_key())
        .map_err(mismatched)?;
    config.alpn_protocols = alpn(&options.alpn)?;
    Ok(config)
}

impl TlsSocket {
    /// Runs the handshake on as far as the socket's mode lets it (`again` where a non-blocking
    /// socket would block; the session keeps its state for the next call).
    async fn handshake(
        &mut self,
        w: Waiter,
        intr: &crate::core::wait::InterruptHandle,
    ) -> Result<()> {
        let deadline = self.os.mode().deadline();
        while self.conn.is_handshaking() {
            self.flush(w, deadline, intr).await?;
            if self.conn.is_handshaking()
                && self.conn.wants_read()
                && !self.fill(w, deadline, intr).await?
            {
                return Err(unexpected_eof(" (the peer closed during the handshake)"));
            }
        }
        self.flush(w, deadline, intr).await
    }

    /// Writes out every TLS record rustls has queued, waiting as the socket's mode says.
    async fn flush(
        &mut self,
        w: Waiter,
        deadline: Deadline,
        intr: &crate::core::wait::InterruptHandle,
    ) -> Result<()> {
        while self.conn.wants_write() {
            let conn = &mut self.conn;
            w.call(&*self.os, Interest::Write, deadline, intr, |s| {
                conn.write_tls(&mut Wire(s))
            })
            .await?;
        }
        Ok(())
    }

    /// Reads what the socket has and lets rustls process it; `false` at the end of the
    /// connection.
    async fn fill(
        &mut self,
        w: Waiter,
        deadline: Deadline,
        intr: &crate::core::wait::InterruptHandle,
    ) -> Result<bool> {
        let conn = &mut self.conn;
        let n = w
            .call(&*self.os, Interest::Read, deadline, intr, |s| {
                conn.read_tls(&mut Wire(s))
            })
            .await?;
        if n == 0 {
            return Ok(false);
        }
        if let Err(e) = self.conn.process_new_packets() {
            // Tell the peer (an alert rustls queued), then fail.
            let _ = self.flush(w, Deadline::Now, intr).await;
            return Err(from_rustls(e));
        }
        Ok(true)
    }

    /// Fills `buf` from the socket, taking no byte more; `false` if the connection ended first.
    async fn read_exact(
        &self,
        w: Waiter,
        buf: &mut [u8],
        deadline: Deadline,
        intr: &crate::core::wait::InterruptHandle,
    ) -> Result<bool> {
        let mut got = 0;
        while got < buf.len() {
            let rest = &mut buf[got..];
            let n = w
                .call(&*self.os, Interest::Read, deadline, intr, |s| {
                    Wire(s).read(rest)
                })
                .await?;
            if n == 0 {
                return Ok(false);
            }
            got += n;
        }
        Ok(true)
    }
}

impl SocketCtxView<'_> {
    /// The OS socket of `s`, which must be a connected stream socket.
    fn connected_stream(&self, s: &Resource<Socket>) -> Result<Arc<OsSocket>> {
        let sock = self.table.get(s)?;
        let os = Arc::clone(sock.os()?);
        if !matches!(sock.kind(), SocketKind::Stream) || os.os.peer_addr().is_err() {
            return Err(SocketError::value(
                "TLS needs a connected stream socket (SOCK_STREAM, after connect or accept)",
            ));
        }
        Ok(os)
    }

    /// A client session over `s` (a connected stream socket), its handshake not started.
    fn client_session(&self, s: &Resource<Socket>, options: &ClientOptions) -> Result<TlsSocket> {
        let os = self.connected_stream(s)?;
        let conn = client_connection(&self.ctx.tls_settings(), options)?;
        Ok(TlsSocket { os, conn })
    }

    /// A server session over `s` (an accepted stream socket), its handshake not started.
    fn server_session(&self, s: &Resource<Socket>, options: &ServerOptions) -> Result<TlsSocket> {
        let os = self.connected_stream(s)?;
        let conn = server_connection(&self.ctx.tls_settings(), options)?;
        Ok(TlsSocket { os, conn })
    }

    /// Runs `tls`'s handshake, then keeps the session in the table (not when it failed).
    async fn handshaken(&mut self, w: Waiter, mut tls: TlsSocket) -> Result<Resource<TlsSocket>> {
        tls.handshake(w, &self.ctx.interrupt.clone()).await?;
        Ok(self.table.push(tls)?)
    }

    /// `tls-socket.connect`: the client's handshake over `s`, within its timeout.
    pub(crate) async fn tls_connect(
        &mut self,
        w: Waiter,
        s: &Resource<Socket>,
        options: ClientOptions,
    ) -> Result<Resource<TlsSocket>> {
        let tls = self.client_session(s, &options)?;
        self.handshaken(w, tls).await
    }

    /// `tls-socket.accept`: the server's handshake over `s`, within its timeout.
    pub(crate) async fn tls_accept(
        &mut self,
        w: Waiter,
        s: &Resource<Socket>,
        options: ServerOptions,
    ) -> Result<Resource<TlsSocket>> {
        let tls = self.server_session(s, &options)?;
        self.handshaken(w, tls).await
    }

    /// `tls-socket.client`: a client session over `s`, its handshake not started.
    pub(crate) fn tls_client(
        &mut self,
        s: &Resource<Socket>,
        options: ClientOptions,
    ) -> Result<Resource<TlsSocket>> {
        let tls = self.client_session(s, &options)?;
        Ok(self.table.push(tls)?)
    }

    /// `tls-socket.server`: a server session over `s`, its handshake not started.
    pub(crate) fn tls_server(
        &mut self,
        s: &Resource<Socket>,
        options: ServerOptions,
    ) -> Result<Resource<TlsSocket>> {
        let tls = self.server_session(s, &options)?;
        Ok(self.table.push(tls)?)
    }

    /// `tls-socket.handshake`: on as far as the socket's mode lets it.
    pub(crate) async fn tls_do_handshake(
        &mut self,
        w: Waiter,
        t: &Resource<TlsSocket>,
    ) -> Result<()> {
        let intr = self.ctx.interrupt.clone();
        self.table.get_mut(t)?.handshake(w, &intr).await
    }

    /// `tls-socket.wants-write`.
    pub(crate) fn tls_wants_write(&self, t: &Resource<TlsSocket>) -> Result<bool> {
        Ok(self.table.get(t)?.conn.wants_write())
    }

    /// `tls-socket.send`: how much of `data` went (up to [`SEND_CHUNK`] per call).
    pub(crate) async fn tls_send(
        &mut self,
        w: Waiter,
        t: &Resource<TlsSocket>,
        data: &[u8],
    ) -> Result<u64> {
        let intr = self.ctx.interrupt.clone();
        let tls = self.table.get_mut(t)?;
        let deadline = tls.os.mode().deadline();
        // What rustls still holds from an earlier call goes first.
        tls.flush(w, deadline, &intr).await?;
        let chunk = &data[..data.len().min(SEND_CHUNK)];
        let n = tls.conn.writer().write(chunk)?;
        match tls.flush(w, deadline, &intr).await {
            // The plaintext is rustls's now; what did not go yet goes with the next call.
            Err(e) if n > 0 && e.errno_code() == Some(Errno::Again) => Ok(n as u64),
            Err(e) => Err(e),
            Ok(()) => Ok(n as u64),
        }
    }

    /// `tls-socket.sendall`.
    pub(crate) async fn tls_sendall(
        &mut self,
        w: Waiter,
        t: &Resource<TlsSocket>,
        mut data: &[u8],
    ) -> Result<()> {
        while !data.is_empty() {
            let n = self.tls_send(w, t, data).await? as usize;
            data = &data[n..];
        }
        Ok(())
    }

    /// `tls-socket.recv`: plaintext, empty after close_notify. The buffer is sized by what
    /// rustls has decrypted, never by `bufsize` alone.
    pub(crate) async fn tls_recv(
        &mut self,
        w: Waiter,
        t: &Resource<TlsSocket>,
        bufsize: u64,
    ) -> Result<Vec<u8>> {
        let max = read_size(self.ctx, bufsize);
        let intr = self.ctx.interrupt.clone();
        let tls = self.table.get_mut(t)?;
        let deadline = tls.os.mode().deadline();
        loop {
            if let Some(data) = plaintext(&mut tls.conn, max)? {
                return Ok(data);
            }
            if !tls.fill(w, deadline, &intr).await? {
                return Err(unexpected_eof(""));
            }
            // Key updates and the like want answers.
            tls.flush(w, deadline, &intr).await?;
        }
    }

    /// `tls-socket.unwrap`: close_notify both ways (ours, then the peer's, reading record by
    /// record so that nothing sent in plain after it is taken); the socket goes on in plain.
    /// Plaintext still arriving before the peer's close_notify is dropped.
    pub(crate) async fn tls_unwrap(&mut self, w: Waiter, t: Resource<TlsSocket>) -> Result<()> {
        let intr = self.ctx.interrupt.clone();
        let tls = self.table.get_mut(&t)?;
        let deadline = tls.os.mode().deadline();
        tls.conn.send_close_notify();
        tls.flush(w, deadline, &intr).await?;
        let mut scratch = [0u8; 4096];
        loop {
            match tls.conn.reader().read(&mut scratch) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Err(unexpected_eof(" (no close_notify)")),
            }
            let mut head = [0u8; 5];
            let mut record = Vec::new();
            let whole = tls.read_exact(w, &mut head, deadline, &intr).await? && {
                record.extend_from_slice(&head);
                record.resize(5 + usize::from(u16::from_be_bytes([head[3], head[4]])), 0);
                tls.read_exact(w, &mut record[5..], deadline, &intr).await?
            };
            if !whole {
                return Err(unexpected_eof(" (no close_notify)"));
            }
            tls.conn.read_tls(&mut &record[..])?;
            tls.conn.process_new_packets().map_err(from_rustls)?;
        }
        self.table.delete(t)?;
        Ok(())
    }

    /// `tls-socket.pending`.
    pub(crate) fn tls_pending(&mut self, t: &Resource<TlsSocket>) -> Result<u64> {
        Ok(pending(&mut self.table.get_mut(t)?.conn))
    }

    /// `tls-socket.peer-certificate`, `version`, `cipher`, `alpn-protocol`.
    pub(crate) fn tls_facts(&self, t: &Resource<TlsSocket>) -> Result<SessionFacts> {
        Ok(SessionFacts::of(&self.table.get(t)?.conn))
    }

    /// Dropping a TLS socket closes its socket (no close_notify: as dropping an SSLSocket).
    pub(crate) fn tls_drop(&mut self, t: Resource<TlsSocket>) -> wasmtime::Result<()> {
        self.table.delete(t)?;
        Ok(())
    }
}

/// The most ciphertext a `tls-engine` holds for its session to take.
const MAX_INBOX: usize = 16 << 20;

/// A TLS session over memory: the guest moves the ciphertext (`feed`, `take`).
pub struct TlsEngine {
    conn: Connection,
    /// Ciphertext fed and not yet taken by the session (it takes more as plaintext is read).
    inbox: Vec<u8>,
    /// The transport ended.
    eof: bool,
    /// An engine counts against the instance's socket limit (it holds a session's state).
    _slot: crate::core::limits::Slot,
}

impl std::fmt::Debug for TlsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsEngine").finish_non_exhaustive()
    }
}

impl TlsEngine {
    /// Hands the session what it can take of the inbox.
    fn pump(&mut self) -> Result<()> {
        while !self.inbox.is_empty() {
            let n = match self.conn.read_tls(&mut &self.inbox[..]) {
                Ok(0) => break,
                Ok(n) => n,
                // Its plaintext buffer is full: the rest waits for a read.
                Err(_) => break,
            };
            self.inbox.drain(..n);
            self.conn.process_new_packets().map_err(from_rustls)?;
        }
        Ok(())
    }
}

impl SocketCtxView<'_> {
    /// `tls-engine.client`.
    pub(crate) fn engine_client(&mut self, options: ClientOptions) -> Result<Resource<TlsEngine>> {
        let conn = client_connection(&self.ctx.tls_settings(), &options)?;
        self.push_engine(conn)
    }

    /// `tls-engine.server`.
    pub(crate) fn engine_server(&mut self, options: ServerOptions) -> Result<Resource<TlsEngine>> {
        let conn = server_connection(&self.ctx.tls_settings(), &options)?;
        self.push_engine(conn)
    }

    fn push_engine(&mut self, conn: Connection) -> Result<Resource<TlsEngine>> {
        let slot = self.ctx.slot()?;
        Ok(self.table.push(TlsEngine {
            conn,
            inbox: Vec::new(),
            eof: false,
            _slot: slot,
        })?)
    }

    /// `tls-engine.feed`.
    pub(crate) fn engine_feed(&mut self, e: &Resource<TlsEngine>, data: &[u8]) -> Result<()> {
        let engine = self.table.get_mut(e)?;
        if engine.inbox.len() + data.len() > MAX_INBOX {
            return Err(SocketError::value(
                "more than 16 MiB of ciphertext waiting: read the plaintext first",
            ));
        }
        engine.inbox.extend_from_slice(data);
        engine.pump()
    }

    /// `tls-engine.feed-eof`.
    pub(crate) fn engine_feed_eof(&mut self, e: &Resource<TlsEngine>) -> Result<()> {
        self.table.get_mut(e)?.eof = true;
        Ok(())
    }

    /// `tls-engine.take`.
    pub(crate) fn engine_take(&mut self, e: &Resource<TlsEngine>) -> Result<Vec<u8>> {
        let engine = self.table.get_mut(e)?;
        let mut out = Vec::new();
        while engine.conn.wants_write() {
            engine.conn.write_tls(&mut out)?;
        }
        Ok(out)
    }

    /// `tls-engine.handshaking`.
    pub(crate) fn engine_handshaking(&self, e: &Resource<TlsEngine>) -> Result<bool> {
        Ok(self.table.get(e)?.conn.is_handshaking())
    }

    /// `tls-engine.read`: sized by what the session has decrypted, never by `bufsize` alone.
    pub(crate) fn engine_read(&mut self, e: &Resource<TlsEngine>, bufsize: u64) -> Result<Vec<u8>> {
        let max = read_size(self.ctx, bufsize);
        let engine = self.table.get_mut(e)?;
        engine.pump()?;
        if let Some(data) = plaintext(&mut engine.conn, max)? {
            // Room was made: the session may take more of the inbox.
            engine.pump()?;
            return Ok(data);
        }
        if engine.eof && engine.inbox.is_empty() {
            return Err(unexpected_eof(""));
        }
        Err(SocketError::errno(Errno::Again))
    }

    /// `tls-engine.write`.
    pub(crate) fn engine_write(&mut self, e: &Resource<TlsEngine>, data: &[u8]) -> Result<u64> {
        let engine = self.table.get_mut(e)?;
        Ok(engine.conn.writer().write(data)? as u64)
    }

    /// `tls-engine.close`.
    pub(crate) fn engine_close(&mut self, e: &Resource<TlsEngine>) -> Result<()> {
        self.table.get_mut(e)?.conn.send_close_notify();
        Ok(())
    }

    /// `tls-engine.peer-closed`.
    pub(crate) fn engine_peer_closed(&mut self, e: &Resource<TlsEngine>) -> Result<bool> {
        let engine = self.table.get_mut(e)?;
        engine.pump()?;
        let state = engine.conn.process_new_packets().map_err(from_rustls)?;
        Ok(state.peer_has_closed())
    }

    /// `tls-engine.pending`.
    pub(crate) fn engine_pending(&mut self, e: &Resource<TlsEngine>) -> Result<u64> {
        Ok(pending(&mut self.table.get_mut(e)?.conn))
    }

    /// `tls-engine.peer-certificate`, `version`, `cipher`, `alpn-protocol`: as a socket's.
    pub(crate) fn engine_facts(&self, e: &Resource<TlsEngine>) -> Result<SessionFacts> {
        Ok(SessionFacts::of(&self.table.get(e)?.conn))
    }
}

/// What a session says of itself.
pub(crate) struct SessionFacts {
    pub(crate) peer_certificate: Option<Vec<u8>>,
    pub(crate) version: String,
    pub(crate) cipher: String,
    pub(crate) alpn: Option<String>,
}

impl SessionFacts {
    pub(crate) fn of(conn: &Connection) -> Self {
        SessionFacts {
            peer_certificate: conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec()),
            version: match conn.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".into(),
                Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".into(),
                Some(other) => format!("{other:?}"),
                None => String::new(),
            },
            cipher: conn
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .unwrap_or_default()
                .to_string(),
            alpn: conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
        }
    }
}
