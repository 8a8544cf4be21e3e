//! A static-file HTTP server plugin that sends files with zero-copy `sendfile`: no byte of a
//! file passes through wasm. It serves `GET /NAME` from the guest directory `/srv` on the
//! listening socket the host hands it, until the host interrupts it.
//!
//! `sockbox run --listen 127.0.0.1:8080 --dir ./public::/srv file-server.wasm`

use std::io::{BufRead, Write};
use std::time::Duration;

use sockbox::{Errno, Error, Socket};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (listener, name) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("no preopened socket: run with --listen ADDR")?;
    eprintln!("file-server: serving /srv on {name}");
    loop {
        let conn = match listener.accept() {
            Ok((conn, _)) => conn,
            Err(Error::Os {
                errno: Errno::Canceled,
                ..
            }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        conn.settimeout(Some(Duration::from_secs(30)));
        if let Err(e) = serve(&conn) {
            eprintln!("file-server: {e}");
        }
    }
}

/// Answers one request, then closes the connection.
fn serve(conn: &Socket) -> Result<(), Box<dyn std::error::Error>> {
    let mut request = conn.makefile("rb")?;
    let mut line = String::new();
    request.read_line(&mut line)?;
    loop {
        let mut header = String::new();
        if request.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let name = path.trim_start_matches('/');
    // One path segment of plain characters: no way out of /srv.
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.starts_with('.');
    let file = if method == "GET" && plain {
        sockbox::fs::open(format!("/srv/{name}")).ok()
    } else {
        None
    };
    let mut out = conn.makefile("wb")?;
    match file {
        Some(file) => {
            let size = file.stat().map_err(|e| format!("stat: {e:?}"))?.size;
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
            )?;
            out.flush()?;
            let sent = conn.sendfile(&file, 0, None)?;
            eprintln!("file-server: {path} {sent} bytes");
        }
        None => {
            write!(
                out,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n"
            )?;
            out.flush()?;
        }
    }
    Ok(())
}
