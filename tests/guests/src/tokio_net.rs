//! A tokio program on `wasm32-wasip2` (tokio's `net` over mio over wasi-libc over
//! `wasi:sockets`): no sockbox in it. `tokio-net PORT` talks to a native echo server on
//! 127.0.0.1:PORT over three concurrent connections and times out a read.
//!
//! Not here: tokio's `TcpListener::accept`. With Rust 1.95's wasi-libc, mio's accept makes the
//! accepted socket non-blocking with `fcntl(F_SETFL, O_NONBLOCK)`, which wasi-libc refuses
//! (EINVAL) on wasmtime-wasi as on sockbox, so every tokio accept fails there.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("PORT");
    let mut echo = TcpStream::connect(("127.0.0.1", port)).await?;
    echo.write_all(b"tokio hello").await?;
    let mut buf = [0u8; 11];
    echo.read_exact(&mut buf).await?;
    println!("echo: {:?}", String::from_utf8_lossy(&buf));

    // Three connections at once, each writing in pieces and reading its own echo back.
    let mut clients = Vec::new();
    for i in 0..3u8 {
        clients.push(tokio::spawn(async move {
            let mut c = TcpStream::connect(("127.0.0.1", port)).await?;
            let message: Vec<u8> = (0..100_000u32).map(|n| (n as u8) ^ i).collect();
            let (mut rd, mut wr) = c.split();
            let send = async {
                for piece in message.chunks(7_000) {
                    wr.write_all(piece).await?;
                    tokio::task::yield_now().await;
                }
                std::io::Result::Ok(())
            };
            let mut back = vec![0u8; message.len()];
            let (sent, got) = tokio::join!(send, rd.read_exact(&mut back));
            sent?;
            got?;
            std::io::Result::Ok(back == message)
        }));
    }
    for (i, client) in clients.into_iter().enumerate() {
        println!("client {i}: echoed intact {}", client.await??);
    }

    let mut quiet = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut one = [0u8; 1];
    let waited = tokio::time::timeout(Duration::from_millis(100), quiet.read(&mut one)).await;
    println!("timed out: {}", waited.is_err());
    Ok(())
}
