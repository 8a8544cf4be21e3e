//! The plugin `sockbox demo` runs: it resolves a name through the host, talks to a native echo
//! server, is refused an address the policy does not allow, and serves one native client on
//! the listener the host preopened. `demo ECHO_PORT`.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use sockbox::{AddrInfoFlags, AddressFamily, Socket, SocketKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .ok_or("usage: demo ECHO_PORT")?
        .parse()?;

    let answers = sockbox::getaddrinfo(
        Some("localhost"),
        Some(&port.to_string()),
        AddressFamily::Inet,
        Some(SocketKind::Stream),
        0,
        AddrInfoFlags::empty(),
    )?;
    let first = &answers.first().ok_or("no answer")?.address;
    println!("guest: getaddrinfo(\"localhost\", {port}) -> {first}");

    let sock = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    sock.settimeout(Some(Duration::from_secs(5)));
    sock.connect(("localhost", port))?;
    println!("guest: connected {sock:?}");
    sock.sendall(b"hello from a wasm guest")?;
    let reply = sock.recv(1024)?;
    println!(
        "guest: echo server replied {:?}",
        String::from_utf8_lossy(&reply)
    );
    drop(sock);

    let other = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    match other.connect(("192.0.2.1", 80)) {
        Ok(()) => println!("guest: connect to 192.0.2.1:80 was allowed?!"),
        Err(e) => println!("guest: connect to 192.0.2.1:80 -> {e:?}"),
    }

    let (listener, name) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("no preopened listener")?;
    println!("guest: serving one client on the preopened listener {name}");
    listener.settimeout(Some(Duration::from_secs(5)));
    let (conn, peer) = listener.accept()?;
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line)?;
    println!("guest: {peer} says {:?}", line.trim_end());
    (&conn).write_all(line.to_uppercase().as_bytes())?;
    Ok(())
}
