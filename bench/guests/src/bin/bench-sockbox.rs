//! The benchmark workloads on sockbox.

use std::io::Read;

use sockbox::{AddressFamily, Socket, SocketKind};
use sockbox_bench_guests::Args;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    if a.workload == "hello" {
        // A process start: one sockbox call, one line.
        drop(Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?);
        println!("hello");
        return Ok(());
    }
    if a.workload == "accept" {
        let (listener, _) = sockbox::preopened_sockets()?
            .into_iter()
            .next()
            .ok_or("no listener")?;
        for _ in 0..a.size {
            let (c, _) = listener.accept()?;
            drop(c);
        }
        return Ok(());
    }
    if let Some(tls) = a.workload.strip_prefix("tls-") {
        return tls_workload(tls, &a);
    }
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    if a.nodelay {
        s.set_tcp_nodelay(true)?;
    }
    s.connect(("127.0.0.1", a.port))?;
    match a.workload.as_str() {
        "startup" => {
            s.sendall(b"!")?;
        }
        "send" => {
            let buf = vec![0x5au8; a.chunk];
            let mut left = a.size;
            while left > 0 {
                let n = left.min(a.chunk as u64) as usize;
                s.sendall(&buf[..n])?;
                left -= n as u64;
            }
        }
        "recv" => {
            let mut got = 0u64;
            while got < a.size {
                let n = s.recv(a.chunk)?.len();
                if n == 0 {
                    break;
                }
                got += n as u64;
            }
        }
        "recv-into" => {
            let mut buf = vec![0u8; a.chunk];
            let mut got = 0u64;
            while got < a.size {
                let n = s.recv_into(&mut buf)?;
                if n == 0 {
                    break;
                }
                got += n as u64;
            }
        }
        "rtt" => {
            let mut b = [0u8; 1];
            for _ in 0..a.size {
                s.send(b"x")?;
                s.recv_into(&mut b)?;
            }
        }
        "sendfile" => {
            let f = sockbox::fs::open(a.path.as_deref().ok_or("path")?)?;
            s.sendfile(&f, 0, None)?;
        }
        "readsend" => {
            let mut f = std::fs::File::open(a.path.as_deref().ok_or("path")?)?;
            let mut buf = vec![0u8; a.chunk];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                s.sendall(&buf[..n])?;
            }
        }
        other => return Err(format!("unknown workload {other}").into()),
    }
    Ok(())
}

/// The TLS workloads against the harness's rustls server (`localhost`'s certificate, whose CA
/// the host trusts): `recv`, `rtt`, `handshakes`.
fn tls_workload(workload: &str, a: &Args) -> Result<(), Box<dyn std::error::Error>> {
    use sockbox::tls::{ClientOptions, TlsStream};
    let options = ClientOptions::new("localhost");
    let session = || -> Result<TlsStream, sockbox::Error> {
        let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
        s.set_tcp_nodelay(true)?;
        s.connect(("127.0.0.1", a.port))?;
        TlsStream::connect(s, &options)
    };
    match workload {
        "recv" => {
            let tls = session()?;
            let mut got = 0u64;
            while got < a.size {
                let n = tls.recv(a.chunk)?.len();
                if n == 0 {
                    break;
                }
                got += n as u64;
            }
        }
        "rtt" => {
            let tls = session()?;
            for _ in 0..a.size {
                tls.sendall(b"x")?;
                tls.recv(1)?;
            }
        }
        "handshakes" => {
            for _ in 0..a.size {
                drop(session()?);
            }
        }
        other => return Err(format!("unknown TLS workload {other}").into()),
    }
    Ok(())
}
