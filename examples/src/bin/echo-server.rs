//! A TCP echo server plugin: serves, one connection at a time, on the listening socket the
//! host hands it (`sockbox run --listen 127.0.0.1:7000 echo-server.wasm`).
//!
//! It runs until the host interrupts it (the embedder's interrupt handle), then exits 0.

use sockbox::{Errno, Error};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (listener, name) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("no preopened socket: run with --listen ADDR")?;
    eprintln!("echo-server: serving on {name}");
    loop {
        let (conn, peer) = match listener.accept() {
            Ok(c) => c,
            Err(Error::Os {
                errno: Errno::Canceled,
                ..
            }) => {
                eprintln!("echo-server: interrupted by the host, exiting");
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        // One client's trouble (a reset, a broken pipe) ends its connection, not the server.
        match echo(&conn) {
            Ok(total) => eprintln!("echo-server: {peer} sent and got back {total} bytes"),
            Err(Error::Os {
                errno: Errno::Canceled,
                ..
            }) => {
                eprintln!("echo-server: interrupted by the host, exiting");
                return Ok(());
            }
            Err(e) => eprintln!("echo-server: {peer}: {e}"),
        }
    }
}

/// Echoes what `conn` sends until it ends the stream; the number of bytes.
fn echo(conn: &sockbox::Socket) -> Result<usize, Error> {
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = conn.recv_into(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        conn.sendall(&buf[..n])?;
        total += n;
    }
}
