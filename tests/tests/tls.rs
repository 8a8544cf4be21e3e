//! TLS served by the host: a guest's `TlsStream` against a native rustls server whose
//! certificate a test CA signed, on both hosts. Verification (full, chain-only, none and the
//! host's switch for it), ALPN, the version, the peer certificate, close_notify both ways with
//! `unwrap` handing back the plain socket, and the socket's timeout during a handshake.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sockbox_tests::{allowing_connect, case, silent_server};

/// A test CA (its PEM) and a native TLS server on loopback with a certificate it signed for
/// `localhost`, answering each connection: one line echoed, close_notify both ways, then a
/// line in plain text and the end of the connection.
struct Server {
    port: u16,
    ca_pem: String,
    cert_len: usize,
    cert_pem: String,
}

/// A test CA and a certificate it signed for `localhost`: (CA PEM, leaf DER, leaf PEM, key
/// PEM, key DER).
struct Issued {
    ca_pem: String,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
    key_der: Vec<u8>,
    /// A client certificate the same CA signed (common name `sockbox client`), and its key.
    client_pem: String,
    client_key_pem: String,
    client_der: CertificateDer<'static>,
    client_key_der: Vec<u8>,
}

fn issue() -> Issued {
    issue_expiring(false)
}

/// [`issue`], with a server certificate that expired in 2021 when `expired`.
fn issue_expiring(expired: bool) -> Issued {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sockbox test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "sockbox client");
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();
    Issued {
        ca_pem: ca.pem(),
        cert_der: cert.der().clone(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        key_der: key.serialize_der(),
        client_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
        client_der: client.der().clone(),
        client_key_der: client_key.serialize_der(),
    }
}

/// The client certificate of `issued` as rustls takes it.
fn client_identity(issued: &Issued) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let key = PrivatePkcs8KeyDer::from(issued.client_key_der.clone());
    (vec![issued.client_der.clone()], PrivateKeyDer::Pkcs8(key))
}

/// The roots of `issued`'s CA, for rustls.
fn ca_roots(issued: &Issued) -> Arc<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(issued.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(roots)
}

/// A native TLS server (for `localhost`) that requires a client certificate `issued`'s CA
/// signed; for one connection it writes `hello, certified client` and ends the session. Its
/// handshake's outcome comes back through the handle.
fn client_auth_server(issued: &Issued) -> (u16, std::thread::JoinHandle<Result<(), String>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        ca_roots(issued),
        provider.clone(),
    )
    .build()
    .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_der.clone()));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![issued.cert_der.clone()], key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
        }
        let certified = conn.peer_certificates().is_some_and(|c| !c.is_empty());
        if !certified {
            return Err("no client certificate".into());
        }
        conn.writer()
            .write_all(b"hello, certified client\n")
            .unwrap();
        conn.send_close_notify();
        conn.complete_io(&mut tcp).map_err(|e| e.to_string())?;
        Ok(())
    });
    (port, server)
}

fn tls_server() -> Server {
    tls_server_with(serve)
}

/// How a native test server answers one connection.
type Answer = fn(Arc<rustls::ServerConfig>, TcpStream) -> Option<()>;

/// [`tls_server`] with another way to answer each connection.
fn tls_server_with(answer: Answer) -> Server {
    tls_server_full(issue(), 0, rustls::ALL_VERSIONS, answer)
}

/// [`tls_server_with`] for `issued`'s certificate, sending it with `padding` more copies of
/// the CA's certificate after it in its chain (a hostile peer's huge chain), speaking
/// `versions`.
fn tls_server_full(
    issued: Issued,
    padding: usize,
    versions: &[&'static rustls::SupportedProtocolVersion],
    answer: Answer,
) -> Server {
    let cert_der = issued.cert_der.clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_der.clone()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca_der = rustls::pki_types::pem::PemObject::from_pem_slice(issued.ca_pem.as_bytes())
        .map(|ca: CertificateDer<'static>| ca)
        .unwrap();
    let mut chain = vec![cert_der.clone()];
    chain.extend(std::iter::repeat_n(ca_der, padding));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            std::thread::spawn(move || answer(config, tcp));
        }
    });
    Server {
        port,
        ca_pem: issued.ca_pem,
        cert_len: cert_der.len(),
        cert_pem: issued.cert_pem,
    }
}

/// One connection of [`tls_server`]; any failure (a client that refused the certificate)
/// just ends it.
fn serve(config: Arc<rustls::ServerConfig>, mut tcp: TcpStream) -> Option<()> {
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let mut conn = rustls::ServerConnection::new(config).ok()?;
    {
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let line = read_until(&mut tls, b"\n")?;
        tls.write_all(&line).ok()?;
    }
    conn.send_close_notify();
    while conn.wants_write() {
        conn.write_tls(&mut tcp).ok()?;
    }
    // The client's close_notify, then plain text on the same connection.
    let mut scratch = [0u8; 256];
    loop {
        match conn.reader().read(&mut scratch) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
        if conn.read_tls(&mut tcp).ok()? == 0 {
            return None;
        }
        conn.process_new_packets().ok()?;
    }
    tcp.write_all(b"goodbye in plain text\n").ok()?;
    tcp.shutdown(Shutdown::Write).ok()
}

/// The bytes `r` gives up to and with `end`, read one at a time (nothing after it is taken);
/// `None` if the stream fails or ends first.
fn read_until(r: &mut impl Read, end: &[u8]) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(end) {
        r.read_exact(&mut byte).ok()?;
        got.push(byte[0]);
    }
    Some(got)
}

/// An HTTPS answer: the request head, then a fixed response.
fn serve_https(config: Arc<rustls::ServerConfig>, mut tcp: TcpStream) -> Option<()> {
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let mut conn = rustls::ServerConnection::new(config).ok()?;
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    read_until(&mut tls, b"\r\n\r\n")?;
    let body = "hello over https\n";
    write!(
        tls,
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    conn.send_close_notify();
    conn.complete_io(&mut tcp).ok()?;
    Some(())
}

/// CPython's own ssl.py over the host's TLS in a Python plugin: http.client and urllib GET
/// over https, the session's version, ALPN, certificate and cipher; a certificate the roots do
/// not vouch for and a wrong name are `SSLCertVerificationError`s; `check_hostname = False`
/// accepts another name.
fn python_speaks_https() {
    let server = tls_server_with(serve_https);
    let component = sockbox_tests::python_component("tests/python", "https_client");
    let out = sockbox_tests::run_component(
        &component,
        "https_client",
        &[&server.port.to_string(), &server.ca_pem],
        by_name(server.port),
        &[],
    );
    out.assert_ok();
    for (label, want) in [
        ("status", "200 hello over https".to_string()),
        ("version", "TLSv1.3".to_string()),
        ("alpn", "http/1.1".to_string()),
        ("cert", server.cert_len.to_string()),
        ("cipher", "TLSv1.3".to_string()),
        ("urllib", "200 hello over https".to_string()),
        (
            "untrusted",
            "SSLCertVerificationError CERTIFICATE_VERIFY_FAILED".to_string(),
        ),
        ("wrong-name", "SSLCertVerificationError True".to_string()),
        // OpenSSL's codes and words, as native CPython reports them.
        (
            "untrusted-why",
            "20 unable to get local issuer certificate".to_string(),
        ),
        (
            "wrong-name-why",
            "62 Hostname mismatch, certificate is not valid for 'other.example'.".to_string(),
        ),
        (
            "wrong-name-str",
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: Hostname mismatch, \
             certificate is not valid for 'other.example'."
                .to_string(),
        ),
        ("no-hostname-check", "HTTP/1.1 200".to_string()),
        ("pending", "True".to_string()),
        ("maximum 1.2", "TLSv1.2".to_string()),
    ] {
        assert_eq!(out.line(label), want, "{label}: {out}");
    }
    // getpeercert() as the machine's CPython decodes the same certificate.
    let pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(pem.path(), &server.cert_pem).unwrap();
    let native = std::process::Command::new("python3")
        .args([
            "-c",
            "import ssl, sys; print(repr(ssl._ssl._test_decode_cert(sys.argv[1])))",
        ])
        .arg(pem.path())
        .output()
        .unwrap();
    let native = String::from_utf8_lossy(&native.stdout);
    assert_eq!(out.line("peercert"), native.trim_end(), "{out}");
}

/// requests (urllib3 over CPython's ssl.py) GETs over https, verifying with a CA file the host
/// mounts into the plugin; with its default bundle (certifi's CA file, which the plugin carries
/// and the host mounts where certifi looks) it loads Mozilla's roots and refuses the test CA's
/// certificate.
fn python_requests_speaks_https() {
    let server = tls_server_with(serve_https);
    let ca = tempfile::tempdir().unwrap();
    std::fs::write(ca.path().join("ca.pem"), &server.ca_pem).unwrap();
    let component = sockbox_tests::python_component_with(
        "tests/python",
        "requests_https",
        &sockbox_tests::python::example_requirements("http_clients"),
    );
    let files = sockbox_tests::python::plugin_files("requests_https");
    let mut dirs: Vec<(&std::path::Path, &str)> = vec![(ca.path(), "/ca")];
    dirs.extend(
        files
            .iter()
            .map(|(host, guest)| (host.as_path(), guest.as_str())),
    );
    let out = sockbox_tests::run_component(
        &component,
        "requests_https",
        &[&server.port.to_string(), "/ca/ca.pem"],
        by_name(server.port),
        &dirs,
    );
    out.assert_ok();
    assert_eq!(out.line("verified"), "200 hello over https", "{out}");
    assert_eq!(out.line("certifi"), "True", "{out}");
}

/// `N` bytes (`i * 7 % 251`), then close_notify.
fn serve_bytes<const N: usize>(config: Arc<rustls::ServerConfig>, tcp: TcpStream) -> Option<()> {
    serve_bytes_ending(config, tcp, N, true)
}

/// 1 MiB, then the connection ends without close_notify (a truncation attack, or a crash).
fn serve_truncated(config: Arc<rustls::ServerConfig>, tcp: TcpStream) -> Option<()> {
    serve_bytes_ending(config, tcp, 1 << 20, false)
}

/// `n` bytes of the pattern after the handshake, then close_notify or not.
fn serve_bytes_ending(
    config: Arc<rustls::ServerConfig>,
    mut tcp: TcpStream,
    n: usize,
    notify: bool,
) -> Option<()> {
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .ok()?;
    let mut conn = rustls::ServerConnection::new(config).ok()?;
    let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
    {
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        for chunk in data.chunks(64 << 10) {
            tls.write_all(chunk).ok()?;
        }
        tls.flush().ok()?;
    }
    if notify {
        conn.send_close_notify();
        conn.complete_io(&mut tcp).ok()?;
    }
    tcp.shutdown(Shutdown::Both).ok()
}

/// The handshake, then nothing: a client's read waits for ever.
fn serve_mute(config: Arc<rustls::ServerConfig>, mut tcp: TcpStream) -> Option<()> {
    let mut conn = rustls::ServerConnection::new(config).ok()?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).ok()?;
    }
    let mut byte = [0u8; 1];
    while tcp.read(&mut byte).ok()? > 0 {}
    Some(())
}

/// The checksum the `tls-bytes` guest prints for `n` bytes of [`serve_bytes`]'s pattern.
fn pattern_checksum(n: usize) -> u64 {
    (0..n).fold(0xcbf29ce484222325u64, |h, i| {
        (h ^ (i * 7 % 251) as u64).wrapping_mul(0x100000001b3)
    })
}

/// 1 MiB and 100 MiB from a native TLS server arrive byte for byte, and the session ends
/// with close_notify (an empty read); a connection that ends without close_notify after 1 MiB
/// is `SSLEOFError`, never a clean end.
fn transfers_are_exact_and_truncation_is_an_error() {
    for (n, answer) in [
        (1usize << 20, serve_bytes::<{ 1 << 20 }> as Answer),
        (100 << 20, serve_bytes::<{ 100 << 20 }>),
    ] {
        let server = tls_server_with(answer);
        let out = case(
            &["tls-bytes", &server.port.to_string(), &server.ca_pem],
            allowing_connect(server.port),
        );
        out.assert_ok();
        assert_eq!(
            out.line("bytes"),
            format!("{n} {:016x} end", pattern_checksum(n)),
            "{out}"
        );
    }
    let server = tls_server_with(serve_truncated);
    let out = case(
        &["tls-bytes", &server.port.to_string(), &server.ca_pem],
        allowing_connect(server.port),
    );
    out.assert_ok();
    assert!(
        out.line("bytes")
            .starts_with(&format!("{} err SSLEOFError", 1 << 20)),
        "{out}"
    );
}

/// TLS 1.2 works with a server that speaks nothing newer, unless the host asks for 1.3 at
/// least (`SocketCtxBuilder::tls_min_version`, `--tls-min-version 1.3`): then the handshake
/// fails.
fn the_host_sets_the_oldest_tls_version() {
    for min in [None, Some(sockbox_host::TlsVersion::Tls13)] {
        let server = tls_server_full(issue(), 0, &[&rustls::version::TLS12], serve);
        let mut ctx = allowing_connect(server.port);
        if let Some(min) = min {
            ctx = ctx.tls_min_version(min);
        }
        let out = tls_case(server.port, "localhost", &server.ca_pem, ctx);
        if min.is_none() {
            assert_eq!(out.line("version"), "TLSv1.2", "{out}");
            assert_eq!(out.line("echo"), "hello over tls");
        } else {
            assert!(out.line("connect").starts_with("err SSLError"), "{out}");
        }
    }
}

/// A self-signed server certificate made as `openssl req -x509` makes one (a CA certificate
/// for `localhost`), trusted by giving it as the trust anchor: accepted as OpenSSL accepts it
/// (webpki alone refuses a CA certificate as the end of a chain), its name still checked.
fn a_trusted_self_signed_certificate_is_accepted() {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.self_signed(&key).unwrap();
    let issued = Issued {
        ca_pem: cert.pem(),
        cert_der: cert.der().clone(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        key_der: key.serialize_der(),
        ..issue()
    };
    let server = tls_server_full(issued, 0, rustls::ALL_VERSIONS, serve);
    let out = tls_case(
        server.port,
        "localhost",
        &server.ca_pem,
        allowing_connect(server.port),
    );
    assert_eq!(out.line("connect"), "ok", "{out}");
    assert_eq!(out.line("echo"), "hello over tls");
    let out = tls_case(
        server.port,
        "other.example",
        &server.ca_pem,
        allowing_connect(server.port),
    );
    assert_eq!(
        out.line("connect"),
        "err SSLCertVerificationError : certificate verify failed: Hostname mismatch, \
         certificate is not valid for 'other.example'.",
        "{out}"
    );
}

/// An expired certificate is refused as CPython words it.
fn expired_certificate_is_refused() {
    let server = tls_server_full(issue_expiring(true), 0, rustls::ALL_VERSIONS, serve);
    let out = tls_case(
        server.port,
        "localhost",
        &server.ca_pem,
        allowing_connect(server.port),
    );
    assert_eq!(
        out.line("connect"),
        "err SSLCertVerificationError : certificate verify failed: certificate has expired",
        "{out}"
    );
}

/// Hostile input on both sides: malformed PEM from the guest (trust anchors, a credential) is
/// a `ValueError`; a peer that sends a huge certificate chain (2,000 certificates) is an
/// `SSLError`, never a hang or a trap.
fn hostile_tls_input_fails_cleanly() {
    let server = tls_server_with(serve);
    let bad_pem = "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
    let out = tls_case(
        server.port,
        "localhost",
        bad_pem,
        allowing_connect(server.port),
    );
    assert!(
        out.line("connect").starts_with("err ValueError : bad PEM"),
        "{out}"
    );
    let (listener, addr) = sockbox_tests::preopen_listener("127.0.0.1:0");
    let ctx =
        sockbox_tests::with_policy(sockbox_tests::policy(&[])).preopen(addr.to_string(), listener);
    let poke = std::thread::spawn(move || TcpStream::connect(addr).map(drop));
    let out = case(&["tls-server", bad_pem, "no key here"], ctx);
    let _ = poke.join();
    out.assert_ok();
    assert!(
        out.line("accept").starts_with("err ValueError : bad PEM"),
        "{out}"
    );
    let server = tls_server_full(issue(), 2000, rustls::ALL_VERSIONS, serve);
    let out = tls_case(
        server.port,
        "localhost",
        &server.ca_pem,
        allowing_connect(server.port),
    );
    assert!(out.line("connect").starts_with("err SSLError"), "{out}");
}

/// The instance's interrupt wakes a guest blocked (no timeout) in a handshake with a peer that
/// never answers, and in a read on a session whose peer says nothing: ECANCELED.
fn interrupt_wakes_tls_calls() {
    let silent = silent_server("127.0.0.1:0");
    let mute = tls_server_with(serve_mute);
    for (port, ca, label) in [
        (silent.port(), "-".to_string(), "handshake"),
        (mute.port, mute.ca_pem.clone(), "recv"),
    ] {
        let ctx = allowing_connect(port).build().unwrap();
        let handle = ctx.interrupt_handle();
        let interrupt = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            handle.interrupt();
        });
        let out = sockbox_tests::run_with("cases", &["tls-block", &port.to_string(), &ca], ctx);
        interrupt.join().unwrap();
        out.assert_ok();
        assert!(
            out.line(label).starts_with("err OSError Canceled"),
            "{label}: {out}"
        );
    }
}

/// A TLS echo that makes a non-blocking client wait: it starts its handshake 200 ms late,
/// echoes one line, then sends nothing more until the client goes.
fn serve_late(config: Arc<rustls::ServerConfig>, mut tcp: TcpStream) -> Option<()> {
    std::thread::sleep(std::time::Duration::from_millis(200));
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let mut conn = rustls::ServerConnection::new(config).ok()?;
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let line = read_until(&mut tls, b"\n")?;
    tls.write_all(&line).ok()?;
    while tls.read(&mut [0u8; 1]).ok()? > 0 {}
    Some(())
}

/// CPython's ssl.py on a non-blocking socket (`do_handshake_on_connect=False`, then
/// `do_handshake`, `send` and `recv` raising `SSLWantReadError`/`SSLWantWriteError` and waited
/// for with `select`): the same output as native CPython running the same script.
fn python_nonblocking_tls() {
    let server = tls_server_with(serve_late);
    let script = sockbox_tests::python::workspace_root().join("tests/python/tls_nonblocking.py");
    let port = server.port.to_string();
    let native = std::process::Command::new("python3")
        .arg(&script)
        .args([&port, &server.ca_pem])
        .output()
        .unwrap();
    assert!(native.status.success(), "native: {native:?}");
    let server = tls_server_with(serve_late);
    let port = server.port.to_string();
    let component = sockbox_tests::python_component("tests/python", "tls_nonblocking");
    let out = sockbox_tests::run_component(
        &component,
        "tls_nonblocking",
        &[&port, &server.ca_pem],
        allowing_connect(server.port).build().unwrap(),
        &[],
    );
    out.assert_ok();
    assert_eq!(out.line("handshake"), "TLSv1.3 True", "{out}");
    assert_eq!(out.line("echo"), "hello over tls");
    assert_eq!(out.line("again"), "SSLWantReadError");
    let native = String::from_utf8_lossy(&native.stdout);
    // The CA differs between the two servers; what is printed does not depend on it.
    assert_eq!(out.stdout, native, "native:\n{native}");
}

/// The examples fetch over https with no TLS setting of their own, the test CA added by the
/// host (`SocketCtxBuilder::tls_roots_pem`, what `sockbox run --tls-ca` does): Rust `http-get
/// --tls` and Python `fetch.py` (urllib).
fn examples_fetch_over_https() {
    let server = tls_server_with(serve_https);
    let port = server.port.to_string();
    let ctx = || {
        sockbox_tests::with_rules(&[
            "lookup localhost".to_string(),
            format!("connect localhost:{port}"),
        ])
        .tls_roots_pem(server.ca_pem.as_bytes())
        .unwrap()
        .build()
        .unwrap()
    };
    let out = sockbox_tests::run_with("http-get", &["--tls", "localhost", &port, "/hello"], ctx());
    out.assert_ok();
    assert_eq!(out.stdout, "hello over https\n", "{out}");
    assert_eq!(out.stderr.trim_end(), "HTTP/1.1 200 OK", "{out}");
    let fetch = sockbox_tests::python_component("examples/python", "fetch");
    let url = format!("https://localhost:{port}/hello");
    let out = sockbox_tests::run_component(&fetch, "fetch", &[&url], ctx(), &[]);
    out.assert_ok();
    assert_eq!(out.stdout, "200 OK\nhello over https\n", "{out}");
}

/// The `tls-echo-server` example serves the native `openssl s_client` (verifying the
/// certificate and the name against the test CA) with the credential the host holds; a client
/// that does not speak TLS is logged and the server serves on, until the interrupt.
fn example_tls_echo_server_serves_openssl() {
    use std::io::BufRead;
    let issued = issue();
    let (ctx, addr) = serving_as_site(&issued);
    let handle = ctx.interrupt_handle();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &issued.ca_pem).unwrap();
    let client = std::thread::spawn(move || {
        let mut openssl = std::process::Command::new("openssl")
            .args(["s_client", "-quiet", "-no_ign_eof", "-verify_return_error"])
            .args(["-verify_hostname", "localhost", "-servername", "localhost"])
            .arg("-CAfile")
            .arg(&ca)
            .arg("-connect")
            .arg(addr.to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl");
        let mut stdin = openssl.stdin.take().unwrap();
        stdin.write_all(b"hello via openssl\n").unwrap();
        let mut echo = String::new();
        std::io::BufReader::new(openssl.stdout.take().unwrap())
            .read_line(&mut echo)
            .unwrap();
        // The end of its input: it ends the session (close_notify) and exits.
        drop(stdin);
        assert!(openssl.wait().unwrap().success());
        // A client that does not speak TLS; the server drops it, so it has finished with
        // openssl's too (one connection at a time) when this read ends.
        let mut plain = TcpStream::connect(addr).unwrap();
        plain.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let _ = plain.read_to_end(&mut Vec::new());
        handle.interrupt();
        echo
    });
    let out = sockbox_tests::run_with("tls-echo-server", &[], ctx);
    let echo = client.join().unwrap();
    out.assert_ok();
    assert_eq!(echo, "hello via openssl\n", "{out}");
    assert!(out.stderr.contains("sent and got back 18 bytes"), "{out}");
    assert!(out.stderr.contains("interrupted by the host"), "{out}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.len() >= 4,
        "the plain client's failure is logged: {out}"
    );
}

/// The Rust guest's `tls` case against `server` as `name`, verified fully against `ca` (PEM,
/// or `-` for the host's roots), allowed to reach the server and no more than `ctx` adds.
fn tls_case(
    port: u16,
    name: &str,
    ca: &str,
    ctx: sockbox_host::SocketCtxBuilder,
) -> sockbox_tests::Outcome {
    let out = case(&["tls", &port.to_string(), name, "full", ca], ctx);
    out.assert_ok();
    out
}

/// A context whose policy may look up `localhost` and reach it on `port`.
fn by_name(port: u16) -> sockbox_host::SocketCtx {
    sockbox_tests::with_rules(&[
        "lookup localhost".to_string(),
        format!("connect localhost:{port}"),
    ])
    .build()
    .unwrap()
}

/// A context with a preopened loopback listener (its address) and `issued`'s certificate and
/// key as the credential named `site`.
fn serving_as_site(issued: &Issued) -> (sockbox_host::SocketCtx, std::net::SocketAddr) {
    let (listener, addr) = sockbox_tests::preopen_listener("127.0.0.1:0");
    let ctx = sockbox_tests::with_policy(sockbox_tests::policy(&[]))
        .preopen(addr.to_string(), listener)
        .tls_credential(
            "site",
            issued.cert_pem.as_bytes(),
            issued.key_pem.as_bytes(),
        )
        .unwrap()
        .build()
        .unwrap();
    (ctx, addr)
}

/// A native TLS client of the guest's server on `addr`, trusting `ca_pem`: sends a line and
/// returns the echo, after close_notify both ways.
fn native_tls_client(addr: std::net::SocketAddr, ca_pem: &str) -> String {
    native_tls_client_as(addr, ca_pem, None).unwrap()
}

/// [`native_tls_client`], presenting `identity` (a certificate chain and key) when the server
/// asks for one; `Err` when the session fails.
fn native_tls_client_as(
    addr: std::net::SocketAddr,
    ca_pem: &str,
    identity: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> std::io::Result<String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    tls.write_all(b"hello, guest server\n")?;
    let mut echo = Vec::new();
    let mut byte = [0u8; 1];
    while !echo.ends_with(b"\n") {
        tls.read_exact(&mut byte)?;
        echo.push(byte[0]);
    }
    conn.send_close_notify();
    conn.complete_io(&mut tcp)?;
    Ok(String::from_utf8(echo).unwrap())
}

/// Mutual TLS in a Python plugin, both ways. As a server (`verify_mode = CERT_REQUIRED`,
/// `load_verify_locations(cafile=)` for the client CA): a native client with a certificate
/// that CA signed gets through and `getpeercert()` names it; one without, or with another
/// CA's, is refused (that CA alone is trusted for clients, as in CPython). As a
/// client (`load_cert_chain` on a client context): a native server that requires a client
/// certificate accepts it.
fn python_mutual_tls() {
    let issued = issue();
    let component = sockbox_tests::python_component("tests/python", "tls_server");
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("ca.pem"), &issued.ca_pem).unwrap();
    std::fs::write(files.path().join("client.pem"), &issued.client_pem).unwrap();
    std::fs::write(files.path().join("client-key.pem"), &issued.client_key_pem).unwrap();
    let stranger = issue();
    // (the client's certificate, the plugin's refusal)
    for (identity, refusal) in [
        (Some(client_identity(&issued)), None),
        (None, Some("SSLError")),
        (
            Some(client_identity(&stranger)),
            Some("SSLCertVerificationError"),
        ),
    ] {
        let (ctx, addr) = serving_as_site(&issued);
        let ca = issued.ca_pem.clone();
        let client = std::thread::spawn(move || native_tls_client_as(addr, &ca, identity));
        let out = sockbox_tests::run_component(
            &component,
            "tls_server",
            &["require", "/certs/ca.pem"],
            ctx,
            &[(files.path(), "/certs")],
        );
        let echo = client.join().unwrap();
        out.assert_ok();
        match refusal {
            None => {
                assert_eq!(out.line("peer"), "sockbox client", "{out}");
                assert_eq!(out.line("got"), "hello, guest server");
                assert_eq!(echo.unwrap(), "hello, guest server\n");
            }
            Some(refusal) => {
                assert_eq!(out.line("refused"), refusal, "{out}");
                assert!(echo.is_err(), "{echo:?}");
            }
        }
    }
    let (port, server) = client_auth_server(&issued);
    let out = sockbox_tests::run_component(
        &component,
        "tls_server",
        &[
            "client",
            &port.to_string(),
            "/certs/ca.pem",
            "/certs/client.pem",
            "/certs/client-key.pem",
        ],
        by_name(port),
        &[(files.path(), "/certs")],
    );
    out.assert_ok();
    assert_eq!(server.join().unwrap(), Ok(()));
    assert_eq!(out.line("answer"), "hello, certified client", "{out}");
}

/// A Rust guest presents a client certificate the host holds under a name (its key never
/// enters the guest) to a native server that requires one; without it the server refuses.
fn guest_presents_a_named_client_certificate() {
    let issued = issue();
    for named in [true, false] {
        let (port, server) = client_auth_server(&issued);
        let mut ctx = allowing_connect(port);
        if named {
            ctx = ctx
                .tls_credential(
                    "me",
                    issued.client_pem.as_bytes(),
                    issued.client_key_pem.as_bytes(),
                )
                .unwrap();
        }
        let credential = if named { "me" } else { "-" };
        let out = case(
            &[
                "tls-client-cert",
                &port.to_string(),
                &issued.ca_pem,
                credential,
            ],
            ctx,
        );
        out.assert_ok();
        let served = server.join().unwrap();
        if named {
            assert_eq!(served, Ok(()));
            assert_eq!(out.line("answer"), "hello, certified client", "{out}");
        } else {
            assert!(served.is_err(), "{served:?}");
            assert!(out.line("answer").starts_with("err "), "{out}");
        }
    }
}

/// The guest serves TLS with a credential the host named (its key never enters the guest) or
/// with PEM it holds; a native rustls client verifies it against the CA; an unknown name is a
/// `ValueError`.
fn guest_serves_tls() {
    let issued = issue();
    for named in [true, false] {
        let (listener, addr) = sockbox_tests::preopen_listener("127.0.0.1:0");
        let mut ctx = sockbox_tests::with_policy(sockbox_tests::policy(&[]))
            .preopen(addr.to_string(), listener);
        let args: Vec<&str> = if named {
            ctx = ctx
                .tls_credential(
                    "site",
                    issued.cert_pem.as_bytes(),
                    issued.key_pem.as_bytes(),
                )
                .unwrap();
            vec!["tls-server", "site"]
        } else {
            vec!["tls-server", &issued.cert_pem, &issued.key_pem]
        };
        let ca = issued.ca_pem.clone();
        let client = std::thread::spawn(move || native_tls_client(addr, &ca));
        let out = case(&args, ctx);
        let echo = client.join().unwrap();
        out.assert_ok();
        assert_eq!(out.line("accept"), "ok", "{out}");
        assert_eq!(out.line("alpn"), "http/1.1");
        assert_eq!(out.line("client-cert"), "false");
        assert_eq!(out.line("got"), "hello, guest server");
        assert_eq!(out.line("unwrap"), "ok", "{out}");
        assert_eq!(echo, "hello, guest server\n");
    }
    let (listener, addr) = sockbox_tests::preopen_listener("127.0.0.1:0");
    let ctx =
        sockbox_tests::with_policy(sockbox_tests::policy(&[])).preopen(addr.to_string(), listener);
    let poke = std::thread::spawn(move || TcpStream::connect(addr).map(drop));
    let out = case(&["tls-server", "nobody"], ctx);
    let _ = poke.join();
    out.assert_ok();
    assert!(
        out.line("accept")
            .starts_with("err ValueError : no TLS credential named \"nobody\""),
        "{out}"
    );
}

/// CPython's own ssl.py serves TLS in a plugin: with the credential the host named (the key
/// never enters the plugin) and with PEM files from a preopened directory; a native rustls
/// client verifies it.
fn python_serves_tls() {
    let issued = issue();
    let component = sockbox_tests::python_component("tests/python", "tls_server");
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("cert.pem"), &issued.cert_pem).unwrap();
    std::fs::write(files.path().join("key.pem"), &issued.key_pem).unwrap();
    for named in [true, false] {
        let (ctx, addr) = serving_as_site(&issued);
        let ca = issued.ca_pem.clone();
        let client = std::thread::spawn(move || native_tls_client(addr, &ca));
        let args: &[&str] = if named {
            &[]
        } else {
            &["/certs/cert.pem", "/certs/key.pem"]
        };
        let out = sockbox_tests::run_component(
            &component,
            "tls_server",
            args,
            ctx,
            &[(files.path(), "/certs")],
        );
        let echo = client.join().unwrap();
        out.assert_ok();
        assert_eq!(out.line("alpn"), "http/1.1", "{out}");
        assert_eq!(out.line("version"), "TLSv1.3");
        assert_eq!(out.line("got"), "hello, guest server");
        assert_eq!(out.line("unwrapped"), "ok");
        assert_eq!(echo, "hello, guest server\n");
    }
}

/// asyncio's TLS (CPython's ssl.py over the host's tls-engine): `open_connection(ssl=...)` to
/// a native HTTPS server by name (asyncio's lookup in its executor, which runs inline), and `start_server(ssl=...)` with a named credential for a native
/// rustls client.
fn python_asyncio_speaks_tls() {
    let component = sockbox_tests::python_component("tests/python", "asyncio_tls");
    let server = tls_server_with(serve_https);
    let out = sockbox_tests::run_component(
        &component,
        "asyncio_tls",
        &["client", &server.port.to_string(), &server.ca_pem],
        by_name(server.port),
        &[],
    );
    out.assert_ok();
    assert_eq!(out.line("version"), "TLSv1.3", "{out}");
    assert_eq!(out.line("alpn"), "http/1.1");
    assert_eq!(out.line("response"), "HTTP/1.1 200 OK hello over https");

    let issued = issue();
    let (ctx, addr) = serving_as_site(&issued);
    let ca = issued.ca_pem.clone();
    let client = std::thread::spawn(move || native_tls_client(addr, &ca));
    let out = sockbox_tests::run_component(&component, "asyncio_tls", &["server"], ctx, &[]);
    let echo = client.join().unwrap();
    out.assert_ok();
    assert_eq!(out.line("got"), "hello, guest server", "{out}");
    assert_eq!(out.line("alpn"), "http/1.1");
    assert_eq!(out.line("served"), "ok");
    assert_eq!(echo, "hello, guest server\n");
}

/// asyncio's `start_server(ssl=...)` serves 20 native TLS clients that connect at once, with
/// their sessions in progress together (each answered after a pause), all byte-exact.
fn python_asyncio_serves_many_tls_clients() {
    let component = sockbox_tests::python_component("tests/python", "asyncio_tls");
    let issued = issue();
    let (ctx, addr) = serving_as_site(&issued);
    let clients: Vec<_> = (0..20)
        .map(|_| {
            let ca = issued.ca_pem.clone();
            std::thread::spawn(move || native_tls_client(addr, &ca))
        })
        .collect();
    let out = sockbox_tests::run_component(&component, "asyncio_tls", &["many", "20"], ctx, &[]);
    for client in clients {
        assert_eq!(client.join().unwrap(), "hello, guest server\n");
    }
    out.assert_ok();
    assert_eq!(out.line("served"), "20", "{out}");
    let most: usize = out.line("at once").parse().unwrap();
    assert!(most > 1, "one session at a time: {out}");
    println!("sessions at once: {most}");
}

/// Full verification against the test CA: the handshake, TLS 1.3, ALPN, the certificate, an
/// echo, and `unwrap` giving back the socket with the plain text after close_notify.
fn verified_connection_echoes_and_unwraps() {
    let server = tls_server();
    let out = tls_case(
        server.port,
        "localhost",
        &server.ca_pem,
        allowing_connect(server.port),
    );
    assert_eq!(out.line("connect"), "ok", "{out}");
    assert_eq!(out.line("version"), "TLSv1.3");
    assert_eq!(out.line("cipher"), "true");
    assert_eq!(out.line("alpn"), "http/1.1");
    assert_eq!(out.line("peer-cert"), server.cert_len.to_string());
    assert_eq!(out.line("pending"), "5 10");
    assert_eq!(out.line("echo"), "hello over tls");
    assert_eq!(out.line("plain"), "goodbye in plain text");
}

/// A certificate the roots do not vouch for, or for another name, is refused with
/// `SSLCertVerificationError`; `chain-only` accepts another name, never another CA.
fn certificates_are_verified() {
    let server = tls_server();
    let port = server.port.to_string();
    let run = |name: &str, verify: &str, ca: &str| {
        let out = case(
            &["tls", &port, name, verify, ca],
            allowing_connect(server.port),
        );
        out.assert_ok();
        out.line("connect").to_string()
    };
    let refused = "err SSLCertVerificationError : certificate verify failed";
    assert!(run("localhost", "full", "-").starts_with(refused));
    assert!(run("other.example", "full", &server.ca_pem).starts_with(refused));
    assert_eq!(run("other.example", "chain-only", &server.ca_pem), "ok");
    assert!(run("localhost", "chain-only", "-").starts_with(refused));
}

/// Turning verification off is refused (EACCES) unless the embedder allows it.
fn unverified_needs_the_hosts_consent() {
    let server = tls_server();
    let port = server.port.to_string();
    let args = ["tls", &port, "anything", "none", "-"];
    let out = case(&args, allowing_connect(server.port));
    out.assert_ok();
    assert!(
        out.line("connect")
            .starts_with("err PermissionError Access"),
        "{out}"
    );
    let out = case(
        &args,
        allowing_connect(server.port).tls_allow_unverified(true),
    );
    out.assert_ok();
    assert_eq!(out.line("connect"), "ok", "{out}");
    assert_eq!(out.line("echo"), "hello over tls");
}

/// TLS engines count against the instance's socket limit: past it, EMFILE; dropping one frees
/// a place.
fn engines_count_against_the_socket_limit() {
    let out = case(
        &["tls-engines"],
        sockbox_tests::with_policy(sockbox_tests::policy(&[])).max_sockets(5),
    );
    out.assert_ok();
    assert_eq!(out.line("created"), "5", "{out}");
    assert!(
        out.line("next").starts_with("err OSError TooManyOpen"),
        "{out}"
    );
    assert_eq!(out.line("after-drop"), "ok", "{out}");
}

/// A server that accepts and never speaks TLS: the handshake ends at the socket's timeout.
fn handshake_honours_the_timeout() {
    let silent = silent_server("127.0.0.1:0");
    let start = std::time::Instant::now();
    let out = case(
        &["tls", &silent.port().to_string(), "localhost", "full", "-"],
        allowing_connect(silent.port()),
    );
    out.assert_ok();
    assert_eq!(out.line("connect"), "err TimeoutError : timed out", "{out}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}

sockbox_tests::both_hosts!(
    verified_connection_echoes_and_unwraps,
    certificates_are_verified,
    unverified_needs_the_hosts_consent,
    handshake_honours_the_timeout,
    python_speaks_https,
    python_requests_speaks_https,
    guest_serves_tls,
    python_serves_tls,
    python_mutual_tls,
    python_nonblocking_tls,
    guest_presents_a_named_client_certificate,
    python_asyncio_speaks_tls,
    python_asyncio_serves_many_tls_clients,
    engines_count_against_the_socket_limit,
    transfers_are_exact_and_truncation_is_an_error,
    expired_certificate_is_refused,
    the_host_sets_the_oldest_tls_version,
    a_trusted_self_signed_certificate_is_accepted,
    hostile_tls_input_fails_cleanly,
    interrupt_wakes_tls_calls,
    examples_fetch_over_https,
    example_tls_echo_server_serves_openssl,
);
