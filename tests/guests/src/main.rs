//! The guest side of the integration tests: `cases NAME ARGS...` runs one case and prints
//! what it saw, one fact per line, for the host-side test to check. One binary for every case,
//! so the tests compile one component.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use sockbox::{
    AddrInfoFlags, AddressFamily, Errno, Error, MsgFlags, SockAddress, Socket, SocketKind, Sockopt,
};

use sockbox_test_guests::report;

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = &args[1..];
    match args[0].as_str() {
        "client" => client(&rest[0], port(&rest[1])),
        "server-preopen" => server_preopen(),
        "preopen-accept-only" => preopen_accept_only(),
        "server-bind" => server_bind(&rest[0], port(&rest[1])),
        "udp" => udp(&rest[0], port(&rest[1])),
        "recv-timeout" => recv_timeout(port(&rest[0]), rest[1].parse()?),
        "bulk-recv" => bulk_recv(port(&rest[0])),
        "nonblocking" => nonblocking(port(&rest[0])),
        "refused" => refused(port(&rest[0])),
        "connect" => connect(&rest[0], port(&rest[1])),
        "accept-block" => accept_block(port(&rest[0])),
        "sendall-timeout" => sendall_timeout(port(&rest[0]), rest[1].parse()?),
        "connect-after-timeout" => connect_after_timeout(port(&rest[0]), port(&rest[1])),
        "udp-trunc" => udp_trunc(port(&rest[0])),
        "listen-unbound" => listen_unbound(rest.first().map(|p| p.parse()).transpose()?),
        "limit" => limit(),
        "waitall" => waitall(port(&rest[0])),
        "timeouts" => timeouts(),
        "lookup" => lookup(&rest[0]),
        "bad-input" => bad_input(),
        "options" => options(),
        "large-reads" => large_reads(),
        "connect-self" => connect_self(port(&rest[0])),
        "tls" => tls(port(&rest[0]), &rest[1], &rest[2], &rest[3]),
        "tls-server" => tls_server(&rest[0], rest.get(1).map(String::as_str)),
        "tls-engines" => tls_engines(),
        "tls-bytes" => tls_bytes(port(&rest[0]), &rest[1]),
        "tls-block" => tls_block(port(&rest[0]), &rest[1]),
        "tls-client-cert" => tls_client_cert(port(&rest[0]), &rest[1], &rest[2]),
        "bridge" => bridge(port(&rest[0])),
        other => Err(format!("unknown case {other}").into()),
    }
}

fn port(s: &str) -> u16 {
    s.parse().expect("port")
}

fn family_of(host: &str) -> AddressFamily {
    if host.contains(':') {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    }
}

/// Guest client ↔ native echo server: connect (by name or address), sendall, recv until the
/// echo is complete; Read/Write and getpeername agree.
fn client(host: &str, port: u16) -> Res {
    let mut s = Socket::new(family_of(host), SocketKind::Stream, 0)?;
    s.settimeout(Some(Duration::from_secs(10)));
    s.connect((host, port))?;
    println!("peer: {}", s.getpeername()?);
    let msg = b"hello from the guest";
    s.sendall(msg)?;
    let mut got = Vec::new();
    while got.len() < msg.len() {
        let chunk = s.recv(64)?;
        if chunk.is_empty() {
            break;
        }
        got.extend(chunk);
    }
    println!("echo: {}", String::from_utf8_lossy(&got));
    // The same through std's traits.
    s.write_all(b"via Write")?;
    let mut buf = [0u8; 9];
    s.read_exact(&mut buf)?;
    println!("echo: {}", String::from_utf8_lossy(&buf));
    println!("repr: {s:?}");
    Ok(())
}

/// Native client ↔ guest server on the preopened listener: accept one, reply in upper case.
fn server_preopen() -> Res {
    let (listener, name) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("none")?;
    println!("preopen: {name}");
    serve_one(&listener)
}

/// The preopened listener is the host's: calls that would change it are refused, accept
/// works, and a duplicate is just as limited.
fn preopen_accept_only() -> Res {
    let (listener, _) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("none")?;
    report("shutdown", listener.shutdown(Shutdown::Both));
    report("reuseport", listener.setsockopt(Sockopt::SoReuseport(true)));
    report("listen", listener.listen(1));
    report("dup-shutdown", listener.dup()?.shutdown(Shutdown::Read));
    report(
        "getsockopt",
        listener.getsockopt(sockbox::SockoptName::SoReuseaddr),
    );
    serve_one(&listener)
}

fn serve_one(listener: &Socket) -> Res {
    let (conn, peer) = listener.accept()?;
    println!("accepted: {peer}");
    let data = conn.recv(1024)?;
    conn.sendall(&data.to_ascii_uppercase())?;
    conn.shutdown(Shutdown::Write)?;
    Ok(())
}

/// Native client ↔ guest server on a socket the guest binds itself: bind (host, 0), tell the
/// native side the port over a control connection, serve one connection.
fn server_bind(host: &str, control: u16) -> Res {
    let listener = Socket::new(family_of(host), SocketKind::Stream, 0)?;
    listener.set_reuse_address(true)?;
    listener.bind((host, 0))?;
    listener.listen(8)?;
    let bound = listener.getsockname()?;
    let ctl = Socket::new(family_of(host), SocketKind::Stream, 0)?;
    ctl.connect((host, control))?;
    ctl.sendall(bound.port().ok_or("no port")?.to_string().as_bytes())?;
    ctl.close()?;
    serve_one(&listener)
}

/// UDP round trip with a native echo peer: sendto, recvfrom (with the sender's address).
fn udp(host: &str, port: u16) -> Res {
    let s = Socket::new(family_of(host), SocketKind::Dgram, 0)?;
    s.settimeout(Some(Duration::from_secs(10)));
    let n = s.sendto(b"datagram from the guest", (host, port))?;
    println!("sent: {n}");
    let (data, from) = s.recvfrom(2048)?;
    println!("got: {}", String::from_utf8_lossy(&data));
    println!("from: {}", from.ok_or("no address")?);
    Ok(())
}

/// A recv with a timeout on a silent peer fails with the timeout error at its deadline.
fn recv_timeout(port: u16, ms: u64) -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.connect(("127.0.0.1", port))?;
    s.settimeout(Some(Duration::from_millis(ms)));
    let start = Instant::now();
    let r = s.recv(10);
    println!("elapsed-ms: {}", start.elapsed().as_millis());
    report("recv", r);
    // A large read waits in the host's other path (it receives straight into guest memory).
    let start = Instant::now();
    let r = s.recv(64 * 1024);
    println!("large-elapsed-ms: {}", start.elapsed().as_millis());
    report("recv-large", r);
    Ok(())
}

/// The byte a bulk sender puts at offset `i` (`bulk-recv`).
fn bulk_byte(i: u64) -> u8 {
    (i.wrapping_mul(7) ^ (i >> 11)) as u8
}

/// Receives a stream to its end with large reads (64 KiB, and 20,000 bytes every third read),
/// checking each byte against [`bulk_byte`]; then reads past the end.
fn bulk_recv(port: u16) -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.settimeout(Some(Duration::from_secs(20)));
    s.connect(("127.0.0.1", port))?;
    let (mut total, mut reads, mut largest, mut bad) = (0u64, 0u64, 0usize, None);
    loop {
        let size = if reads % 3 == 2 { 20_000 } else { 64 * 1024 };
        let data = s.recv(size)?;
        if data.is_empty() {
            break;
        }
        if data.len() > size {
            return Err(format!("recv({size}) returned {} bytes", data.len()).into());
        }
        for (k, &b) in data.iter().enumerate() {
            let at = total + k as u64;
            if bad.is_none() && b != bulk_byte(at) {
                bad = Some(at);
            }
        }
        total += data.len() as u64;
        largest = largest.max(data.len());
        reads += 1;
    }
    println!("bytes: {total}");
    println!("mismatch: {bad:?}");
    println!("largest-read: {largest}");
    println!("after-end: {:?}", s.recv(64 * 1024)?);
    s.setblocking(false);
    println!("after-end-nonblocking: {:?}", s.recv(64 * 1024)?);
    Ok(())
}

/// A non-blocking recv with nothing to read fails with `again` (BlockingIOError), at once;
/// MSG_DONTWAIT does the same on a blocking socket.
fn nonblocking(port: u16) -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.connect(("127.0.0.1", port))?;
    s.setblocking(false);
    println!(
        "getblocking: {} gettimeout: {:?}",
        s.getblocking(),
        s.gettimeout()
    );
    report("recv", s.recv(10));
    report("recv-large", s.recv(64 * 1024));
    s.setblocking(true);
    report("recv-dontwait", s.recv_with_flags(10, MsgFlags::DONTWAIT));
    report(
        "recv-large-dontwait",
        s.recv_with_flags(64 * 1024, MsgFlags::DONTWAIT),
    );
    Ok(())
}

/// Connecting to a closed port: ConnectionRefusedError; connect_ex gives ECONNREFUSED.
fn refused(port: u16) -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    report("connect", s.connect(("127.0.0.1", port)));
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    let code = s.connect_ex(("127.0.0.1", port))?;
    println!(
        "connect_ex: {} is-econnrefused: {}",
        code,
        code == Errno::ConnRefused.raw()
    );
    Ok(())
}

/// A plain connect; prints the outcome (the test decides the policy).
fn connect(host: &str, port: u16) -> Res {
    let s = Socket::new(family_of(host), SocketKind::Stream, 0)?;
    let r = s.connect((host, port));
    if let Err(Error::Denied(d)) = &r {
        println!("denied-target: {}", d.target);
        println!("denied-rule: {}", d.rule);
    }
    report("connect", r);
    Ok(())
}

/// Tells the native side (over a control connection) that it is about to block, then blocks
/// in accept on the preopened listener until the host interrupts the instance.
fn accept_block(control: u16) -> Res {
    let (listener, _) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("none")?;
    let ctl = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    ctl.connect(("127.0.0.1", control))?;
    ctl.sendall(b"blocking")?;
    report("accept", listener.accept());
    Ok(())
}

/// A connect to `stuck` (a listener whose backlog is full) times out; a second connect, to
/// `other`, finds the first still under way: EALREADY, as the kernel and CPython answer.
fn connect_after_timeout(stuck: u16, other: u16) -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.settimeout(Some(Duration::from_millis(300)));
    report("first", s.connect(("127.0.0.1", stuck)));
    report("second", s.connect(("127.0.0.1", other)));
    Ok(())
}

/// sendall with a timeout: prints how long it took and how it ended.
fn sendall_timeout(port: u16, ms: u64) -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.connect(("127.0.0.1", port))?;
    s.settimeout(Some(Duration::from_millis(ms)));
    let data = vec![7u8; 16 << 20];
    let start = Instant::now();
    let r = s.sendall(&data);
    println!("elapsed-ms: {}", start.elapsed().as_millis());
    report("sendall", r);
    Ok(())
}

/// recv with MSG_TRUNC of a datagram longer than the buffer returns only what fits.
fn udp_trunc(port: u16) -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Dgram, 0)?;
    s.settimeout(Some(Duration::from_secs(10)));
    s.connect(("127.0.0.1", port))?;
    s.send(b"datagram from the guest")?;
    let got = s.recv_with_flags(4, MsgFlags::TRUNC)?;
    println!("trunc: {} {}", got.len(), String::from_utf8_lossy(&got));
    Ok(())
}

/// listen() on an unbound socket would bind the any-address: the bind rules decide. A bind to
/// the any-address, port 0 (what connect does on its own) needs no rule, and a connect from
/// such a socket works (`PORT`, when given, is a native listener the policy allows), but
/// listen() on it is checked as on an unbound socket; the same for IPv6.
fn listen_unbound(port: Option<u16>) -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    if let Err(Error::Denied(d)) = &s.listen(5) {
        println!("denied-rule: {}", d.rule);
    }
    report("listen", s.listen(5));
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    report("bind-any-0", s.bind(("0.0.0.0", 0)));
    report("bind-any-0-listen", s.listen(5));
    let s6 = Socket::new(AddressFamily::Inet6, SocketKind::Stream, 0)?;
    report("bind-any6-0", s6.bind(("::", 0)));
    report("bind-any6-0-listen", s6.listen(5));
    let fixed = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    report("bind-any-fixed-port", fixed.bind(("0.0.0.0", 45_678)));
    if let Some(port) = port {
        let c = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
        c.bind(("0.0.0.0", 0))?;
        report("bind-any-0-connect", c.connect(("127.0.0.1", port)));
    }
    Ok(())
}

/// Creates sockets until the host's limit refuses one.
fn limit() -> Res {
    let mut held = Vec::new();
    loop {
        match Socket::new(AddressFamily::Inet, SocketKind::Stream, 0) {
            Ok(s) => held.push(s),
            Err(e) => {
                println!("created: {}", held.len());
                report("next", Err::<(), _>(e));
                break;
            }
        }
    }
    held.pop();
    report(
        "after-drop",
        Socket::new(AddressFamily::Inet, SocketKind::Stream, 0),
    );
    Ok(())
}

/// MSG_WAITALL on a blocking socket waits for the whole count across the peer's writes.
fn waitall(port: u16) -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.connect(("127.0.0.1", port))?;
    let got = s.recv_with_flags(10, MsgFlags::WAITALL)?;
    println!("waitall: {}", String::from_utf8_lossy(&got));
    Ok(())
}

/// socket.py's timeout semantics: modes, getblocking with a timeout, the default timeout and
/// what accept gives the new socket.
fn timeouts() -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    println!("new: {:?} {}", s.gettimeout(), s.getblocking());
    s.settimeout(Some(Duration::from_millis(1500)));
    println!("timeout: {:?} {}", s.gettimeout(), s.getblocking());
    s.settimeout(Some(Duration::ZERO));
    println!("zero: {:?} {}", s.gettimeout(), s.getblocking());
    s.setblocking(true);
    println!("blocking: {:?} {}", s.gettimeout(), s.getblocking());
    sockbox::setdefaulttimeout(Some(Duration::from_secs(3)));
    let t = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    println!(
        "default: {:?} {:?}",
        sockbox::getdefaulttimeout(),
        t.gettimeout()
    );
    sockbox::setdefaulttimeout(None);

    // accept: no default timeout → the accepted socket blocks even if the listener has one.
    let (listener, _) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("none")?;
    listener.settimeout(Some(Duration::from_secs(10)));
    let (c1, _) = listener.accept()?;
    println!("accepted-no-default: {:?}", c1.gettimeout());
    // With a default timeout the accepted socket gets it.
    sockbox::setdefaulttimeout(Some(Duration::from_millis(2500)));
    let (c2, _) = listener.accept()?;
    println!("accepted-default: {:?}", c2.gettimeout());
    Ok(())
}

/// getaddrinfo through the host, under the lookup policy.
fn lookup(name: &str) -> Res {
    let r = sockbox::getaddrinfo(
        Some(name),
        Some("80"),
        AddressFamily::Unspec,
        Some(SocketKind::Stream),
        0,
        AddrInfoFlags::empty(),
    );
    match &r {
        Ok(answers) => {
            for a in answers {
                println!("answer: {} {}", a.family, a.address);
            }
        }
        Err(Error::Denied(d)) => println!("denied-rule: {}", d.rule),
        Err(_) => {}
    }
    report("getaddrinfo", r);
    Ok(())
}

/// Bad input gets typed errors, never a trap.
fn bad_input() -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    report("port-70000", s.connect(("127.0.0.1", 70000)));
    report("port-negative", s.connect(("127.0.0.1", -1)));
    report(
        "family-unknown",
        Socket::new(AddressFamily::Other(12345), SocketKind::Stream, 0),
    );
    report(
        "family-unspec",
        Socket::new(AddressFamily::Unspec, SocketKind::Stream, 0),
    );
    report(
        "kind-unknown",
        Socket::new(AddressFamily::Inet, SocketKind::Other(999), 0),
    );
    report("raw", Socket::new(AddressFamily::Inet, SocketKind::Raw, 0));
    report(
        "unix",
        Socket::new(AddressFamily::Unix, SocketKind::Stream, 0),
    );
    report(
        "proto-bad",
        Socket::new(AddressFamily::Inet, SocketKind::Stream, 99),
    );
    let v6: SockAddress = "[::1]:80".parse::<std::net::SocketAddr>()?.into();
    report("v6-addr-on-v4", s.connect(v6));
    report("v6-literal-on-v4", s.connect(("::1", 80)));
    report(
        "set-so-type",
        s.setsockopt(Sockopt::SoType(SocketKind::Dgram)),
    );
    report("recv-unconnected", s.recv(usize::MAX));
    report("getpeername-unconnected", s.getpeername());
    let u = Socket::new(AddressFamily::Inet, SocketKind::Dgram, 0)?;
    u.setblocking(false);
    report("recv-huge-nonblocking", u.recv(usize::MAX));
    // The largest read the operator allows, zero-filled for MSG_TRUNC: nothing arrives, and
    // nothing that large may be allocated for it.
    report(
        "recv-huge-peek",
        u.recv_with_flags(usize::MAX, MsgFlags::PEEK | MsgFlags::DONTWAIT),
    );
    report(
        "recv-huge-trunc",
        u.recv_with_flags(usize::MAX, MsgFlags::TRUNC | MsgFlags::DONTWAIT),
    );
    report(
        "lookup-nul",
        sockbox::getaddrinfo(
            Some("a\0b"),
            None,
            AddressFamily::Unspec,
            None,
            0,
            AddrInfoFlags::empty(),
        ),
    );
    report(
        "lookup-nothing",
        sockbox::getaddrinfo(
            None,
            None,
            AddressFamily::Unspec,
            None,
            0,
            AddrInfoFlags::empty(),
        ),
    );
    s.close()?;
    report("close-twice", s.close());
    report("recv-closed", s.recv(10));
    report("send-closed", s.send(b"x"));
    report("bind-closed", s.bind(("127.0.0.1", 0)));
    println!("alive: yes");
    Ok(())
}

/// The typed options round-trip.
fn options() -> Res {
    let s = Socket::new(AddressFamily::Inet6, SocketKind::Stream, 0)?;
    s.set_reuse_address(true)?;
    s.set_keepalive(true)?;
    s.set_tcp_nodelay(true)?;
    s.set_only_v6(true)?;
    s.set_recv_buffer_size(65536)?;
    s.set_send_buffer_size(65536)?;
    println!(
        "reuse={} keepalive={} nodelay={} v6only={}",
        s.reuse_address()?,
        s.keepalive()?,
        s.tcp_nodelay()?,
        s.only_v6()?
    );
    println!("rcvbuf>=65536: {}", s.recv_buffer_size()? >= 65536);
    println!("sndbuf>=65536: {}", s.send_buffer_size()? >= 65536);
    s.set_tcp_nodelay(false)?;
    s.set_only_v6(false)?;
    println!("nodelay={} v6only={}", s.tcp_nodelay()?, s.only_v6()?);
    println!("type={} error={:?}", s.socket_type()?, s.take_error()?);
    Ok(())
}

/// Reads asking for 64 MiB of what is a few bytes (or one datagram): each gets exactly what
/// arrived (the host reserves no more than that: `tests/tests/allocation.rs`).
fn large_reads() -> Res {
    const HUGE: usize = 64 << 20;
    let (a, b) = sockbox::socketpair(AddressFamily::Unix, SocketKind::Dgram, 0)?;
    for len in [100, 150_000, 0] {
        a.send(&vec![7u8; len])?;
        println!("dgram-recv-{len}: {}", b.recv(HUGE)?.len());
    }
    a.send(&[1u8; 100])?;
    println!(
        "dgram-peek: {}",
        b.recv_with_flags(HUGE, MsgFlags::PEEK)?.len()
    );
    println!(
        "dgram-recvmsg: {}",
        b.recvmsg(HUGE, MsgFlags::empty())?.data.len()
    );
    a.send(&[2u8; 100])?;
    println!("dgram-recvfrom: {}", b.recvfrom(HUGE)?.0.len());
    a.send(&[3u8; 100])?;
    println!(
        "dgram-recv-fds: {}",
        b.recv_fds(HUGE, 1, MsgFlags::empty())?.data.len()
    );
    let (c, d) = sockbox::socketpair(AddressFamily::Unix, SocketKind::Stream, 0)?;
    c.sendall(&[4u8; 100])?;
    println!(
        "stream-peek: {}",
        d.recv_with_flags(HUGE, MsgFlags::PEEK)?.len()
    );
    println!(
        "stream-recvmsg: {}",
        d.recvmsg(HUGE, MsgFlags::empty())?.data.len()
    );
    c.sendall(&[5u8; 100])?;
    println!(
        "stream-recv-fds: {}",
        d.recv_fds(HUGE, 1, MsgFlags::empty())?.data.len()
    );
    c.sendall(&[6u8; 100])?;
    println!("stream-recv: {}", d.recv(HUGE)?.len());
    c.shutdown(Shutdown::Write)?;
    println!(
        "stream-end: {}",
        d.recv_with_flags(HUGE, MsgFlags::PEEK)?.len()
    );
    d.setblocking(false);
    a.setblocking(false);
    report(
        "dgram-empty",
        b.recv_with_flags(HUGE, MsgFlags::DONTWAIT).map(drop),
    );
    Ok(())
}

/// `--allow-connect self`: connects to the guest's own listeners (on 127.0.0.1, and through
/// loopback to one on the any-address), not to a native listener on another port, and not to
/// its own listener's address once that listener is closed.
fn connect_self(other: u16) -> Res {
    let inet = || Socket::new(AddressFamily::Inet, SocketKind::Stream, 0);
    let own = inet()?;
    own.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
    own.listen(None)?;
    let addr = own.getsockname()?;
    let c = inet()?;
    report("own", c.connect(addr.clone()));
    let any = inet()?;
    any.bind(std::net::SocketAddr::from(([0, 0, 0, 0], 0)))?;
    any.listen(None)?;
    let port = any.getsockname()?.as_socket().map_or(0, |a| a.port());
    report(
        "own-any",
        inet()?.connect(std::net::SocketAddr::from(([127, 0, 0, 1], port))),
    );
    report(
        "other",
        inet()?.connect(std::net::SocketAddr::from(([127, 0, 0, 1], other))),
    );
    drop(c);
    drop(own);
    report("closed", inet()?.connect(addr));
    Ok(())
}

/// A TLS client over a connected socket: `tls PORT NAME VERIFY CA_PEM` (`full`, `chain-only`
/// or `none`; `-` for no extra root). Sends a line, prints the echo and what the session
/// says of itself; then unwraps and reads the server's plain goodbye on the same socket.
fn tls(port: u16, name: &str, verify: &str, ca: &str) -> Res {
    use sockbox::tls::{ClientOptions, TlsStream, VerifyMode};
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.settimeout(Some(Duration::from_secs(2)));
    s.connect(("127.0.0.1", port))?;
    let mut options = ClientOptions::new(name);
    options.alpn = vec!["h2".into(), "http/1.1".into()];
    options.verify = match verify {
        "full" => VerifyMode::Full,
        "chain-only" => VerifyMode::ChainOnly,
        _ => VerifyMode::None,
    };
    options.extra_roots_pem = (ca != "-").then(|| ca.as_bytes().to_vec());
    let tls = match TlsStream::connect(s, &options) {
        Ok(tls) => tls,
        Err(e) => {
            report("connect", Err::<(), _>(e));
            return Ok(());
        }
    };
    println!("connect: ok");
    println!("version: {}", tls.version());
    println!("cipher: {}", !tls.cipher().is_empty());
    println!("alpn: {}", tls.alpn_protocol().unwrap_or_default());
    println!(
        "peer-cert: {}",
        tls.peer_certificate().map_or(0, |c| c.len())
    );
    tls.sendall(b"hello over tls\n")?;
    // The echo comes back in one record: what a short read leaves is pending.
    let mut echo = tls.recv(5)?;
    println!("pending: {} {}", echo.len(), tls.pending());
    while !echo.ends_with(b"\n") {
        let chunk = tls.recv(1024)?;
        if chunk.is_empty() {
            break;
        }
        echo.extend_from_slice(&chunk);
    }
    println!("echo: {}", String::from_utf8_lossy(&echo).trim_end());
    let plain = tls.unwrap()?;
    let mut bye = Vec::new();
    loop {
        let chunk = plain.recv(1024)?;
        if chunk.is_empty() {
            break;
        }
        bye.extend_from_slice(&chunk);
    }
    println!("plain: {}", String::from_utf8_lossy(&bye).trim_end());
    Ok(())
}

/// A TLS server on the preopened listener: `tls-server NAME` serves with the credential the
/// host named NAME; `tls-server CHAIN_PEM KEY_PEM` with PEM it holds. Echoes one line, then
/// ends the session with close_notify both ways.
fn tls_server(first: &str, key: Option<&str>) -> Res {
    use sockbox::tls::{
        ClientAuth, Credential, PemCredential, ServerOptions, TlsStream, TlsVersion, TlsVersions,
    };
    let (listener, _) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("no preopened listener")?;
    let (conn, _) = listener.accept()?;
    conn.settimeout(Some(Duration::from_secs(10)));
    let credential = match key {
        Some(key) => Credential::Pem(PemCredential {
            chain: first.as_bytes().to_vec(),
            key: key.as_bytes().to_vec(),
        }),
        None => Credential::Named(first.to_string()),
    };
    let options = ServerOptions {
        credential,
        alpn: vec!["h2".into(), "http/1.1".into()],
        client_auth: ClientAuth::None,
        client_roots_pem: None,
        versions: TlsVersions {
            min: TlsVersion::Tls12,
            max: TlsVersion::Tls13,
        },
    };
    let tls = match TlsStream::accept(conn, &options) {
        Ok(tls) => tls,
        Err(e) => {
            report("accept", Err::<(), _>(e));
            return Ok(());
        }
    };
    println!("accept: ok");
    println!("alpn: {}", tls.alpn_protocol().unwrap_or_default());
    println!("client-cert: {}", tls.peer_certificate().is_some());
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let chunk = tls.recv(1024)?;
        if chunk.is_empty() {
            break;
        }
        line.extend_from_slice(&chunk);
    }
    tls.sendall(&line)?;
    println!("got: {}", String::from_utf8_lossy(&line).trim_end());
    report("unwrap", tls.unwrap());
    Ok(())
}

/// A TLS client of 127.0.0.1:`port` as `localhost` (trusting `ca`) that presents the client certificate the
/// host named `credential` (none for `-`), printing the line the server sends.
fn tls_client_cert(port: u16, ca: &str, credential: &str) -> Res {
    use sockbox::tls::{ClientOptions, Credential, TlsStream};
    let sock = sockbox::create_connection(("127.0.0.1", port))
        .timeout(Duration::from_secs(10))
        .connect()?;
    let mut options = ClientOptions::new("localhost");
    options.extra_roots_pem = Some(ca.as_bytes().to_vec());
    options.credential = (credential != "-").then(|| Credential::Named(credential.to_string()));
    match TlsStream::connect(sock, &options) {
        Ok(tls) => {
            // Through makefile, as socket.py's readline.
            // (TLS 1.3: a server's refusal of the client arrives after the handshake.)
            let mut line = String::new();
            match std::io::BufRead::read_line(&mut tls.makefile("r")?, &mut line) {
                Ok(_) => println!("answer: {}", line.trim_end()),
                Err(e) => println!("answer: err {e}"),
            }
        }
        Err(e) => report("answer", Err::<(), _>(e)),
    }
    Ok(())
}

/// A TLS client of 127.0.0.1:`port` as `localhost` (trusting `ca`) that reads to the end,
/// printing `bytes: COUNT CHECKSUM end` (FNV-1a) or the count and the error that stopped it.
fn tls_bytes(port: u16, ca: &str) -> Res {
    use sockbox::tls::{ClientOptions, TlsStream};
    let sock = sockbox::create_connection(("127.0.0.1", port))
        .timeout(Duration::from_secs(30))
        .connect()?;
    let mut options = ClientOptions::new("localhost");
    options.extra_roots_pem = Some(ca.as_bytes().to_vec());
    let tls = TlsStream::connect(sock, &options)?;
    let (mut count, mut hash) = (0usize, 0xcbf29ce484222325u64);
    loop {
        match tls.recv(256 << 10) {
            Ok(chunk) if chunk.is_empty() => {
                println!("bytes: {count} {hash:016x} end");
                return Ok(());
            }
            Ok(chunk) => {
                for b in &chunk {
                    hash = (hash ^ u64::from(*b)).wrapping_mul(0x100000001b3);
                }
                count += chunk.len();
            }
            Err(e) => {
                println!("bytes: {count} err {} : {e}", e.python_name());
                return Ok(());
            }
        }
    }
}

/// A TLS client of 127.0.0.1:`port` with no timeout: the handshake (trusting `ca`, `-` for
/// the host's roots), then one read; each reported.
fn tls_block(port: u16, ca: &str) -> Res {
    use sockbox::tls::{ClientOptions, TlsStream};
    let sock = sockbox::create_connection(("127.0.0.1", port)).connect()?;
    let mut options = ClientOptions::new("localhost");
    options.extra_roots_pem = (ca != "-").then(|| ca.as_bytes().to_vec());
    match TlsStream::connect(sock, &options) {
        Ok(tls) => {
            println!("handshake: ok");
            report("recv", tls.recv(1024));
        }
        Err(e) => report("handshake", Err::<(), _>(e)),
    }
    Ok(())
}

/// Makes TLS engines (over memory) until the host's socket limit refuses one.
fn tls_engines() -> Res {
    use sockbox::bindings::sockbox::socket::tls::TlsEngine;
    use sockbox::bindings::sockbox::socket::types::{ClientOptions, VerifyMode};
    let options = ClientOptions {
        server_name: "localhost".into(),
        alpn: Vec::new(),
        verify: VerifyMode::Full,
        extra_roots_pem: None,
        credential: None,
        versions: sockbox::tls::TlsVersions {
            min: sockbox::tls::TlsVersion::Tls12,
            max: sockbox::tls::TlsVersion::Tls13,
        },
    };
    let mut held = Vec::new();
    loop {
        match TlsEngine::client(&options) {
            Ok(e) => held.push(e),
            Err(e) => {
                println!("created: {}", held.len());
                report("next", Err::<(), _>(sockbox::Error::from(e)));
                held.pop();
                report(
                    "after-drop",
                    TlsEngine::client(&options).map_err(sockbox::Error::from),
                );
                return Ok(());
            }
        }
    }
}

/// `wasi-bridge`: a connection made with wasi:sockets used through sockbox and the other way.
fn bridge(port: u16) -> Res {
    use wasi::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    let net = wasi::sockets::instance_network::instance_network();
    let tcp = wasi::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4)?;
    let to = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port,
        address: (127, 0, 0, 1),
    });
    tcp.start_connect(&net, to)?;
    let (input, output) = loop {
        match tcp.finish_connect() {
            Err(wasi::sockets::network::ErrorCode::WouldBlock) => tcp.subscribe().block(),
            done => break done?,
        }
    };
    let s = Socket::from_wasi_tcp(&tcp)?;
    println!("bridged nodelay: {}", s.tcp_nodelay()?);
    s.set_tcp_nodelay(true)?;
    println!("bridged peer: {}", s.getpeername()?);
    println!("bridged timeout: {:?}", s.gettimeout());
    s.sendall(b"via sockbox")?;
    let mut got = Vec::new();
    while got.len() < 11 {
        got.extend(input.blocking_read(64)?);
    }
    println!(
        "echo on the wasi stream: {:?}",
        String::from_utf8_lossy(&got)
    );
    output.blocking_write_and_flush(b"via wasi")?;
    println!(
        "echo on the sockbox socket: {:?}",
        String::from_utf8_lossy(&s.recv(64)?)
    );
    s.close()?;
    output.blocking_write_and_flush(b"still")?;
    println!(
        "wasi after sockbox close: {:?}",
        String::from_utf8_lossy(&input.blocking_read(64)?)
    );
    drop((input, output));

    let server = sockbox::create_server(("127.0.0.1", 0)).listen()?;
    let at = server.getsockname()?;
    let (listener, streams) = server.to_wasi_tcp()?;
    println!(
        "to-wasi listening: {} streams: {}",
        listener.is_listening(),
        streams.is_some()
    );
    let client = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    client.connect(at)?;
    let (conn, cin, cout) = loop {
        match listener.accept() {
            Err(wasi::sockets::network::ErrorCode::WouldBlock) => listener.subscribe().block(),
            done => break done?,
        }
    };
    client.sendall(b"hi wasi")?;
    println!(
        "wasi accepted: {:?}",
        String::from_utf8_lossy(&cin.blocking_read(64)?)
    );
    cout.blocking_write_and_flush(b"hi sockbox")?;
    println!(
        "sockbox got: {:?}",
        String::from_utf8_lossy(&client.recv(64)?)
    );
    let (_again, again_streams) = client.to_wasi_tcp()?;
    println!("to-wasi connected streams: {}", again_streams.is_some());
    drop((cin, cout, conn));
    let udp = Socket::new(AddressFamily::Inet, SocketKind::Dgram, 0)?;
    report("to-wasi-tcp of udp", udp.to_wasi_tcp().map(drop));
    udp.bind(("127.0.0.1", 0))?;
    let peer = Socket::new(AddressFamily::Inet, SocketKind::Dgram, 0)?;
    peer.bind(("127.0.0.1", 0))?;
    udp.connect(peer.getsockname()?)?;
    let wudp_bridged = udp.to_wasi_udp()?;
    println!(
        "to-wasi-udp remote is the peer: {}",
        format!("{:?}", wudp_bridged.remote_address()?).contains(&format!(
            "port: {}",
            match peer.getsockname()? {
                SockAddress::Inet(a) => a.port,
                _ => 0,
            }
        ))
    );
    report("to-wasi-udp of tcp", client.to_wasi_udp().map(drop));
    let wudp = wasi::sockets::udp_create_socket::create_udp_socket(IpAddressFamily::Ipv4)?;
    let from_udp = Socket::from_wasi_udp(&wudp)?;
    println!("from-wasi udp kind: {}", from_udp.socket_type()?);
    Ok(())
}
