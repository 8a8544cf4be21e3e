//! The benchmark workloads on `wasi:sockets`, through Rust's `std::net` on wasm32-wasip2.
//! (`set_nodelay` is accepted and does nothing there: these run with Nagle on.)

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use sockbox_bench_guests::Args;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    if a.workload == "hello" {
        // A process start: one line.
        println!("hello");
        return Ok(());
    }
    if a.workload == "accept" {
        let listener = TcpListener::bind(("127.0.0.1", a.port))?;
        for _ in 0..a.size {
            let (c, _) = listener.accept()?;
            drop(c);
        }
        return Ok(());
    }
    let mut s = TcpStream::connect(("127.0.0.1", a.port))?;
    match a.workload.as_str() {
        "startup" => s.write_all(b"!")?,
        "send" => {
            let buf = vec![0x5au8; a.chunk];
            let mut left = a.size;
            while left > 0 {
                let n = left.min(a.chunk as u64) as usize;
                s.write_all(&buf[..n])?;
                left -= n as u64;
            }
        }
        "recv" => {
            let mut buf = vec![0u8; a.chunk];
            let mut got = 0u64;
            while got < a.size {
                let n = s.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                got += n as u64;
            }
        }
        "rtt" => {
            let mut b = [0u8; 1];
            for _ in 0..a.size {
                s.write_all(b"x")?;
                s.read_exact(&mut b)?;
            }
        }
        other => return Err(format!("unknown workload {other}").into()),
    }
    Ok(())
}
