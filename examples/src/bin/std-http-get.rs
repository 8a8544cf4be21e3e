//! A plain Rust `std::net` HTTP client: no sockbox in it. Under `sockbox run` the name it looks
//! up and the address it connects to pass the sockbox policy:
//!
//! ```sh
//! sockbox run --allow-connect localhost:8080 std-http-get.wasm http://localhost:8080/
//! ```
//!
//! It prints the response's status line to stderr and its body to stdout (HTTP/1.0, so the
//! body is the rest of the stream).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://localhost:8080/".to_string());
    if let Err(e) = get(&url) {
        eprintln!("std-http-get: {url}: {e} ({:?})", e.kind());
        std::process::exit(1);
    }
}

fn get(url: &str) -> std::io::Result<()> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "only http:// URLs")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(std::io::Error::other)?),
        None => (authority, 80),
    };
    // std resolves the name through wasi:sockets' ip-name-lookup: the host's lookup, under
    // its policy.
    let mut conn = TcpStream::connect((host, port))?;
    write!(
        conn,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: std-http-get\r\n\r\n"
    )?;
    let mut reader = BufReader::new(conn);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    eprint!("{status}");
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let mut body = Vec::new();
    reader.read_to_end(&mut body)?;
    std::io::stdout().write_all(&body)
}
