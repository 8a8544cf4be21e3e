//! A TCP client plugin: `echo-client HOST PORT MESSAGE` connects (the host resolves HOST under
//! its lookup policy), sends MESSAGE, half-closes, and prints what comes back.
//!
//! `sockbox run --allow-lookup localhost --allow-connect 127.0.0.1:7000 echo-client.wasm
//!  localhost 7000 hello`

use std::io::Read;
use std::net::Shutdown;
use std::time::Duration;

use sockbox::{AddressFamily, Socket, SocketKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, message] = &args[..] else {
        return Err("usage: echo-client HOST PORT MESSAGE".into());
    };
    let port: u16 = port.parse()?;
    let family = if host.contains(':') {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    let mut sock = Socket::new(family, SocketKind::Stream, 0)?;
    sock.settimeout(Some(Duration::from_secs(10)));
    sock.connect((host.as_str(), port))?;
    sock.sendall(message.as_bytes())?;
    sock.shutdown(Shutdown::Write)?;
    let mut reply = String::new();
    sock.read_to_string(&mut reply)?;
    println!("{reply}");
    Ok(())
}
