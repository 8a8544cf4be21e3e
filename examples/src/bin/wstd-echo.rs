//! An async echo server on wstd (the guest async runtime for WASI 0.2): each connection is a
//! wstd task, and sockbox sockets wait through their `wasi:io/poll` pollables
//! (`Socket::subscribe`) in wstd's reactor, beside any other wasi pollable.
//!
//! ```sh
//! sockbox run --listen 127.0.0.1:7000 wstd-echo.wasm        # serves forever
//! sockbox run --listen 127.0.0.1:7000 wstd-echo.wasm 50     # stops after 50 clients
//! ```

use sockbox::{Errno, Error, Interest, SockAddress, Socket, preopened_sockets};
use wstd::runtime::{AsyncPollable, block_on, spawn};

/// Waits, without blocking the other tasks, until `sock` is ready for `interest`.
async fn ready(sock: &Socket, interest: Interest) {
    AsyncPollable::new(sock.subscribe(interest))
        .wait_for()
        .await;
}

fn would_block(e: &Error) -> bool {
    e.errno() == Some(Errno::Again)
}

async fn accept(listener: &Socket) -> Result<(Socket, SockAddress), Error> {
    loop {
        match listener.accept() {
            Err(e) if would_block(&e) => ready(listener, Interest::READABLE).await,
            other => return other,
        }
    }
}

async fn send_all(sock: &Socket, mut data: &[u8]) -> Result<(), Error> {
    while !data.is_empty() {
        match sock.send(data) {
            Ok(n) => data = &data[n..],
            Err(e) if would_block(&e) => ready(sock, Interest::WRITABLE).await,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Echoes everything back until the client closes its side.
async fn serve(sock: Socket) -> Result<u64, Error> {
    sock.setblocking(false);
    let mut total = 0;
    loop {
        match sock.recv(64 * 1024) {
            Ok(data) if data.is_empty() => return Ok(total),
            Ok(data) => {
                total += data.len() as u64;
                send_all(&sock, &data).await?;
            }
            Err(e) if would_block(&e) => ready(&sock, Interest::READABLE).await,
            Err(e) => return Err(e),
        }
    }
}

fn main() -> Result<(), Error> {
    let serve_count: Option<usize> = std::env::args().nth(1).and_then(|n| n.parse().ok());
    block_on(async move {
        let (listener, name) = preopened_sockets()?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Value("no listener: run with --listen ADDR".into()))?;
        listener.setblocking(false);
        eprintln!("wstd-echo: serving on {name}");
        let mut tasks = Vec::new();
        while serve_count.is_none_or(|n| tasks.len() < n) {
            let (conn, _) = accept(&listener).await?;
            tasks.push(spawn(serve(conn)));
        }
        let mut bytes = 0;
        for t in tasks.drain(..) {
            bytes += t.await?;
        }
        println!(
            "wstd-echo: served {} clients, {bytes} bytes",
            serve_count.unwrap_or(0)
        );
        Ok(())
    })
}
