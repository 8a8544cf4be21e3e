//! A TLS echo server plugin: serves, one connection at a time, on the listening socket the
//! host hands it, with the certificate and key the host holds under the name `site` (the key
//! never enters the plugin):
//!
//! ```sh
//! sockbox run --listen 127.0.0.1:7443 --tls-credential site=cert.pem,key.pem \
//!     tls-echo-server.wasm
//! openssl s_client -connect 127.0.0.1:7443 -CAfile ca.pem -quiet
//! ```
//!
//! A client that fails its handshake or goes away is logged and the server serves on; it
//! runs until the host interrupts it, then exits 0.

use std::time::Duration;

use sockbox::tls::{ClientAuth, Credential, ServerOptions, TlsStream, TlsVersion, TlsVersions};
use sockbox::{Errno, Error};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (listener, name) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("no preopened socket: run with --listen ADDR")?;
    eprintln!("tls-echo-server: serving on {name}");
    let options = ServerOptions {
        credential: Credential::Named("site".into()),
        alpn: Vec::new(),
        client_auth: ClientAuth::None,
        client_roots_pem: None,
        versions: TlsVersions {
            min: TlsVersion::Tls12,
            max: TlsVersion::Tls13,
        },
    };
    loop {
        let (conn, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) if canceled(&e) => break,
            Err(e) => return Err(e.into()),
        };
        // A client that never finishes its handshake does not hold the server for ever.
        conn.settimeout(Some(Duration::from_secs(30)));
        match TlsStream::accept(conn, &options).and_then(|tls| echo(&tls)) {
            Ok(total) => eprintln!("tls-echo-server: {peer} sent and got back {total} bytes"),
            Err(e) if canceled(&e) => break,
            Err(e) => eprintln!("tls-echo-server: {peer}: {e}"),
        }
    }
    eprintln!("tls-echo-server: interrupted by the host, exiting");
    Ok(())
}

/// Whether `e` is the host's interrupt.
fn canceled(e: &Error) -> bool {
    matches!(
        e,
        Error::Os {
            errno: Errno::Canceled,
            ..
        }
    )
}

/// Echoes the plaintext `tls` sends until the session ends; the number of bytes.
fn echo(tls: &TlsStream) -> Result<usize, Error> {
    let mut total = 0;
    loop {
        let data = tls.recv(16 * 1024)?;
        if data.is_empty() {
            return Ok(total);
        }
        tls.sendall(&data)?;
        total += data.len();
    }
}
