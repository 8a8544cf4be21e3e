//! A plain Rust `std::net` HTTP server: no sockbox in it, nothing but what `wasm32-wasip2`'s std
//! gives. Under `sockbox run` its `wasi:sockets` calls go through the sockbox policy:
//!
//! ```sh
//! sockbox run --allow-bind 127.0.0.1:8080 std-http-server.wasm 127.0.0.1:8080
//! sockbox run --listen 127.0.0.1:8080 std-http-server.wasm 127.0.0.1:8080   # the host's socket
//! ```
//!
//! It prints `listening on ADDR`, then answers each request with a line naming it, one
//! connection at a time (HTTP/1.1 keep-alive). With a second argument N it stops after N
//! requests.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let limit: Option<u64> = args.next().and_then(|n| n.parse().ok());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let mut served = 0;
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(c) => c,
            // A blocking accept never times out by itself: the host interrupted the program
            // (`sockbox run` on SIGTERM or at its time limit). Stop.
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        match serve(conn, &mut served, limit) {
            Ok(()) => {}
            // One client's failure is its own: log it and serve the next.
            Err(e) => eprintln!("connection: {e}"),
        }
        if limit.is_some_and(|n| served >= n) {
            break;
        }
    }
    Ok(())
}

/// Serves the requests of one connection until it closes, asks to, or the limit is reached.
fn serve(conn: TcpStream, served: &mut u64, limit: Option<u64>) -> std::io::Result<()> {
    let peer = conn.peer_addr()?;
    // Reads and writes through `&TcpStream` (`try_clone` is unsupported on wasm32-wasip2).
    let mut reader = BufReader::new(&conn);
    let mut writer = &conn;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request)? == 0 {
            return Ok(());
        }
        let mut close = request.ends_with("HTTP/1.0\r\n");
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" {
                break;
            }
            if header.to_ascii_lowercase().starts_with("connection: close") {
                close = true;
            }
        }
        *served += 1;
        let last = limit.is_some_and(|n| *served >= n);
        let target = request.split_whitespace().nth(1).unwrap_or("/");
        let body = format!("hello from std::net: request {served} for {target} from {peer}\n");
        write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n{body}",
            body.len(),
            if close || last {
                "Connection: close\r\n"
            } else {
                ""
            },
        )?;
        writer.flush()?;
        if close || last {
            return Ok(());
        }
    }
}
