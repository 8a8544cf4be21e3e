//! A guest that speaks `wasi:sockets` 0.2 directly (no sockbox): `wasi-sockets CASE ARGS...`
//! prints one fact per line, in words that do not depend on who serves the interface, so the
//! tests run it on sockbox's two hosts and on wasmtime-wasi and compare.

use std::fmt::Debug;
use std::io::{Read, Write};

use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::instance_network::instance_network;
use wasi::sockets::ip_name_lookup::resolve_addresses;
use wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};
use wasi::sockets::tcp::{ShutdownType, TcpSocket};
use wasi::sockets::tcp_create_socket::create_tcp_socket;
use wasi::sockets::udp::OutgoingDatagram;
use wasi::sockets::udp_create_socket::create_udp_socket;

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = &args[1..];
    match args[0].as_str() {
        "tcp-states" => tcp_states(),
        "tcp-v6" => tcp_v6(),
        "tcp-options" => tcp_options(),
        "tcp-echo" => tcp_echo(rest[0].parse()?),
        "tcp-refused" => tcp_refused(rest[0].parse()?),
        "tcp-self" => tcp_self(),
        "udp" => udp(),
        "lookup" => lookup(rest),
        "std" => std_net(rest[0].parse()?),
        "connect" => connect(&rest[0], rest[1].parse()?),
        "denied" => denied(rest[0].parse()?),
        "filters" => filters(),
        "limit" => limit(),
        "block" => block(&rest[0], rest.get(1).map(String::as_str)),
        "huge-reads" => huge_reads(),
        "peer-reset" => peer_reset(rest[0].parse()?),
        "lookup-flood" => lookup_flood(rest[0].parse()?),
        other => Err(format!("unknown case {other}").into()),
    }
}

/// Prints `label: ok` or `label: err CODE`.
fn show<T>(label: &str, r: Result<T, ErrorCode>) -> Option<T> {
    match r {
        Ok(v) => {
            println!("{label}: ok");
            Some(v)
        }
        Err(e) => {
            println!("{label}: err {}", code(e));
            None
        }
    }
}

/// An error code's WIT name.
fn code(e: ErrorCode) -> String {
    e.name().to_string()
}

fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> IpSocketAddress {
    IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port,
        address: (a, b, c, d),
    })
}

fn v6(segments: [u16; 8], port: u16) -> IpSocketAddress {
    let [a, b, c, d, e, f, g, h] = segments;
    IpSocketAddress::Ipv6(Ipv6SocketAddress {
        port,
        flow_info: 0,
        scope_id: 0,
        address: (a, b, c, d, e, f, g, h),
    })
}

/// Whether two socket addresses are the same.
fn same(a: &IpSocketAddress, b: &IpSocketAddress) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn port_of(a: &IpSocketAddress) -> u16 {
    match a {
        IpSocketAddress::Ipv4(a) => a.port,
        IpSocketAddress::Ipv6(a) => a.port,
    }
}

/// An address without its port, for lines that must not vary between runs.
fn host_of(a: &IpSocketAddress) -> String {
    match a {
        IpSocketAddress::Ipv4(a) => format!("{:?}", a.address),
        IpSocketAddress::Ipv6(a) => format!("{:?}", a.address),
    }
}

/// Binds `sock` to `addr`, start and finish.
fn bind(sock: &TcpSocket, net: &Network, addr: IpSocketAddress) -> Result<(), ErrorCode> {
    sock.start_bind(net, addr)?;
    sock.finish_bind()
}

/// Connects `sock` to `addr`, waiting in poll.
fn connect_tcp(
    sock: &TcpSocket,
    net: &Network,
    addr: IpSocketAddress,
) -> Result<(InputStream, OutputStream), ErrorCode> {
    sock.start_connect(net, addr)?;
    loop {
        match sock.finish_connect() {
            Err(ErrorCode::WouldBlock) => sock.subscribe().block(),
            done => return done,
        }
    }
}

/// Listens on `sock` (bound), start and finish.
fn listen(sock: &TcpSocket) -> Result<(), ErrorCode> {
    sock.start_listen()?;
    sock.finish_listen()
}

/// Accepts one connection, waiting in poll.
fn accept(sock: &TcpSocket) -> Result<(TcpSocket, InputStream, OutputStream), ErrorCode> {
    loop {
        match sock.accept() {
            Err(ErrorCode::WouldBlock) => sock.subscribe().block(),
            done => return done,
        }
    }
}

/// Reads until `n` bytes came or the stream ended.
fn read_n(input: &InputStream, n: usize) -> (Vec<u8>, Option<String>) {
    let mut got = Vec::new();
    while got.len() < n {
        match input.blocking_read((n - got.len()) as u64) {
            Ok(bytes) => got.extend(bytes),
            Err(StreamError::Closed) => return (got, Some("closed".into())),
            Err(StreamError::LastOperationFailed(e)) => {
                return (got, Some(format!("failed: {}", e.to_debug_string())));
            }
        }
    }
    (got, None)
}

fn stream_result<T: Debug>(r: Result<T, StreamError>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(StreamError::Closed) => "closed".into(),
        Err(StreamError::LastOperationFailed(_)) => "failed".into(),
    }
}

/// The TCP state machine on sockets that never connect anywhere.
fn tcp_states() -> Res {
    let net = instance_network();
    let s = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    println!("family: {:?}", s.address_family());
    println!("listening: {}", s.is_listening());
    show("unbound local-address", s.local_address());
    show("unbound remote-address", s.remote_address());
    show("finish-bind idle", s.finish_bind());
    show("finish-connect idle", s.finish_connect());
    show("finish-listen idle", s.finish_listen());
    show("listen unbound", s.start_listen());
    show("accept unbound", s.accept());
    show("shutdown unbound", s.shutdown(ShutdownType::Both));
    show(
        "bind v6 address",
        s.start_bind(&net, v6([0, 0, 0, 0, 0, 0, 0, 1], 0)),
    );
    show("bind multicast", s.start_bind(&net, v4(224, 0, 0, 1, 0)));
    show(
        "bind broadcast",
        s.start_bind(&net, v4(255, 255, 255, 255, 0)),
    );
    show("backlog 0", s.set_listen_backlog_size(0));
    show("backlog 10", s.set_listen_backlog_size(10));
    show("start-bind", s.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show("start-bind again", s.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show(
        "start-connect while binding",
        s.start_connect(&net, v4(127, 0, 0, 1, 1)),
    );
    show("start-listen while binding", s.start_listen());
    show("finish-bind", s.finish_bind());
    show("finish-bind again", s.finish_bind());
    show("bind bound", s.start_bind(&net, v4(127, 0, 0, 1, 0)));
    if let Some(local) = show("bound local-address", s.local_address()) {
        println!(
            "bound to: {} port>0 {}",
            host_of(&local),
            port_of(&local) > 0
        );
    }
    show("bound remote-address", s.remote_address());
    show("start-listen", s.start_listen());
    show("start-listen again", s.start_listen());
    show("accept while listen starts", s.accept().map(drop));
    show("finish-listen", s.finish_listen());
    println!("listening: {}", s.is_listening());
    show("listen listening", s.start_listen());
    show(
        "connect listening",
        s.start_connect(&net, v4(127, 0, 0, 1, 1)),
    );
    show("accept none", s.accept().map(drop));
    show("backlog listening", s.set_listen_backlog_size(5));
    show("shutdown listening", s.shutdown(ShutdownType::Both));

    let c = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    show("connect port 0", c.start_connect(&net, v4(127, 0, 0, 1, 0)));
    show("connect any", c.start_connect(&net, v4(0, 0, 0, 0, 80)));
    show(
        "connect multicast",
        c.start_connect(&net, v4(224, 0, 0, 1, 80)),
    );
    show(
        "connect broadcast",
        c.start_connect(&net, v4(255, 255, 255, 255, 80)),
    );
    show(
        "connect v6",
        c.start_connect(&net, v6([0, 0, 0, 0, 0, 0, 0, 1], 80)),
    );
    Ok(())
}

/// IPv6 sockets: IPv6-only, no IPv4-mapped addresses.
fn tcp_v6() -> Res {
    let net = instance_network();
    let s = create_tcp_socket(IpAddressFamily::Ipv6).map_err(code)?;
    println!("family: {:?}", s.address_family());
    let mapped = [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1];
    show("bind v4-mapped", s.start_bind(&net, v6(mapped, 0)));
    show("bind v4", s.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show("connect v4-mapped", s.start_connect(&net, v6(mapped, 80)));
    show("bind ::1", bind(&s, &net, v6([0, 0, 0, 0, 0, 0, 0, 1], 0)));
    if let Some(local) = show("local-address", s.local_address()) {
        println!("bound to: {}", host_of(&local));
    }
    show("listen", listen(&s));
    let c = create_tcp_socket(IpAddressFamily::Ipv6).map_err(code)?;
    let port = port_of(&s.local_address().map_err(code)?);
    let streams = show(
        "connect ::1",
        connect_tcp(&c, &net, v6([0, 0, 0, 0, 0, 0, 0, 1], port)),
    );
    let accepted = show("accept", accept(&s));
    if let (Some((cin, cout)), Some((conn, sin, sout))) = (streams, accepted) {
        show_stream("write", cout.blocking_write_and_flush(b"six"));
        let (got, end) = read_n(&sin, 3);
        println!("read: {:?} {end:?}", String::from_utf8_lossy(&got));
        println!("accepted family: {:?}", conn.address_family());
        // Streams before their sockets: wasmtime-wasi makes them the socket's children.
        drop((cin, cout, sin, sout));
    }
    Ok(())
}

fn show_stream<T: Debug>(label: &str, r: Result<T, StreamError>) {
    println!("{label}: {}", stream_result(r));
}

/// Option round trips and their argument checks.
fn tcp_options() -> Res {
    let s = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    show("keep-alive on", s.set_keep_alive_enabled(true));
    println!("keep-alive: {:?}", s.keep_alive_enabled());
    show("keep-alive off", s.set_keep_alive_enabled(false));
    println!("keep-alive: {:?}", s.keep_alive_enabled());
    show("idle 0", s.set_keep_alive_idle_time(0));
    show("idle 5s", s.set_keep_alive_idle_time(5_000_000_000));
    println!("idle: {:?}", s.keep_alive_idle_time());
    show("interval 0", s.set_keep_alive_interval(0));
    show("interval 2s", s.set_keep_alive_interval(2_000_000_000));
    println!("interval: {:?}", s.keep_alive_interval());
    show("count 0", s.set_keep_alive_count(0));
    show("count 4", s.set_keep_alive_count(4));
    println!("count: {:?}", s.keep_alive_count());
    show("hop-limit 0", s.set_hop_limit(0));
    show("hop-limit 42", s.set_hop_limit(42));
    println!("hop-limit: {:?}", s.hop_limit());
    show("rcvbuf 0", s.set_receive_buffer_size(0));
    show("rcvbuf 64k", s.set_receive_buffer_size(65_536));
    println!(
        "rcvbuf >= 64k: {:?}",
        s.receive_buffer_size().map(|n| n >= 65_536)
    );
    show("sndbuf 0", s.set_send_buffer_size(0));
    show("sndbuf 64k", s.set_send_buffer_size(65_536));
    println!(
        "sndbuf >= 64k: {:?}",
        s.send_buffer_size().map(|n| n >= 65_536)
    );
    Ok(())
}

/// A client of a native echo server on 127.0.0.1:PORT: streams, addresses, shutdown.
fn tcp_echo(port: u16) -> Res {
    let net = instance_network();
    let s = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    s.start_connect(&net, v4(127, 0, 0, 1, port))
        .map_err(code)?;
    show(
        "start-connect again",
        s.start_connect(&net, v4(127, 0, 0, 1, port)),
    );
    show("local-address connecting", s.local_address());
    show("listen connecting", s.start_listen());
    s.subscribe().block();
    let Some((input, output)) = show("finish-connect", s.finish_connect()) else {
        return Ok(());
    };
    show("finish-connect again", s.finish_connect());
    show(
        "start-connect connected",
        s.start_connect(&net, v4(127, 0, 0, 1, port)),
    );
    show("listen connected", s.start_listen());
    show("bind connected", s.start_bind(&net, v4(127, 0, 0, 1, 0)));
    if let Some(remote) = show("remote-address", s.remote_address()) {
        println!(
            "remote: {} same port {}",
            host_of(&remote),
            port_of(&remote) == port
        );
    }
    show("local-address", s.local_address());
    println!("listening: {}", s.is_listening());
    show_stream("read nothing yet", input.read(16));
    show_stream("write", output.blocking_write_and_flush(b"hello"));
    let (got, end) = read_n(&input, 5);
    println!("echo: {:?} {end:?}", String::from_utf8_lossy(&got));
    // A large write goes out in check-write-sized pieces and comes back whole.
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut back = Vec::new();
    while sent < big.len() || back.len() < big.len() {
        if sent < big.len() {
            let permit = output.check_write().map_err(|e| format!("{e:?}"))? as usize;
            let n = permit.min(big.len() - sent);
            if n > 0 {
                output
                    .write(&big[sent..sent + n])
                    .map_err(|e| format!("{e:?}"))?;
                sent += n;
            }
        }
        match input.read(65_536) {
            Ok(bytes) => back.extend(bytes),
            Err(e) => return Err(format!("read: {e:?}").into()),
        }
        if back.len() < sent || sent < big.len() {
            let ready = [input.subscribe(), output.subscribe()];
            wasi::io::poll::poll(&[&ready[0], &ready[1]]);
        }
    }
    println!("bulk: {} bytes back, equal {}", back.len(), back == big);
    show("shutdown send", s.shutdown(ShutdownType::Send));
    show_stream(
        "write after shutdown",
        output.blocking_write_and_flush(b"x"),
    );
    let (rest, end) = read_n(&input, 1);
    println!("after shutdown: {} bytes, {end:?}", rest.len());
    show_stream("read after end", input.read(1));
    Ok(())
}

/// A connect to a closed port, and what is left after it.
fn tcp_refused(port: u16) -> Res {
    let net = instance_network();
    let s = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    show(
        "refused",
        connect_tcp(&s, &net, v4(127, 0, 0, 1, port)).map(drop),
    );
    show("finish-connect after", s.finish_connect().map(drop));
    show(
        "start-connect after",
        s.start_connect(&net, v4(127, 0, 0, 1, port)),
    );
    show("bind after", s.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show("listen after", s.start_listen());
    println!("listening: {}", s.is_listening());
    Ok(())
}

/// A listener and a client in one guest: accept, both directions, accepted socket's state.
fn tcp_self() -> Res {
    let net = instance_network();
    let l = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    bind(&l, &net, v4(127, 0, 0, 1, 0)).map_err(code)?;
    listen(&l).map_err(code)?;
    let at = l.local_address().map_err(code)?;
    let c = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    let (cin, cout) = connect_tcp(&c, &net, at).map_err(code)?;
    let (conn, sin, sout) = accept(&l).map_err(code)?;
    println!("accepted listening: {}", conn.is_listening());
    let peer = conn.remote_address().map_err(code)?;
    let client = c.local_address().map_err(code)?;
    println!("accepted peer is client: {}", same(&peer, &client));
    println!(
        "accepted local is listener's: {}",
        same(&conn.local_address().map_err(code)?, &at)
    );
    show("accepted start-connect", conn.start_connect(&net, at));
    show("accepted listen", conn.start_listen());
    show("accept again", l.accept().map(drop));
    show_stream("client write", cout.blocking_write_and_flush(b"ping"));
    let (got, _) = read_n(&sin, 4);
    println!("server got: {:?}", String::from_utf8_lossy(&got));
    show_stream("server write", sout.blocking_write_and_flush(b"pong"));
    let (got, _) = read_n(&cin, 4);
    println!("client got: {:?}", String::from_utf8_lossy(&got));
    // splice: the server sends back what it receives, stream to stream in the host.
    show_stream(
        "client write splice",
        cout.blocking_write_and_flush(b"splice me"),
    );
    let mut moved = 0;
    while moved < 9 {
        match sout.blocking_splice(&sin, 9 - moved) {
            Ok(n) => moved += n,
            Err(e) => return Err(format!("splice: {}", stream_result::<()>(Err(e))).into()),
        }
    }
    let (got, _) = read_n(&cin, 9);
    println!("spliced back: {:?}", String::from_utf8_lossy(&got));
    drop((sin, sout));
    drop(conn);
    let (rest, end) = read_n(&cin, 1);
    println!("client after server drop: {} {end:?}", rest.len());
    Ok(())
}

/// Two UDP sockets in one guest.
fn udp() -> Res {
    let net = instance_network();
    let a = create_udp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    let b = create_udp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    println!("family: {:?}", a.address_family());
    show("stream unbound", a.stream(None).map(drop));
    show("local-address unbound", a.local_address());
    show("finish-bind idle", a.finish_bind());
    show(
        "bind v6",
        a.start_bind(&net, v6([0, 0, 0, 0, 0, 0, 0, 1], 0)),
    );
    show("start-bind", a.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show("start-bind again", a.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show("stream while binding", a.stream(None).map(drop));
    show("finish-bind", a.finish_bind());
    show("bind bound", a.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show(
        "b bind",
        b.start_bind(&net, v4(127, 0, 0, 1, 0))
            .and_then(|()| b.finish_bind()),
    );
    let a_at = a.local_address().map_err(code)?;
    let b_at = b.local_address().map_err(code)?;
    show("remote-address unconnected", a.remote_address());
    show("hop-limit 0", a.set_unicast_hop_limit(0));
    show("hop-limit 9", a.set_unicast_hop_limit(9));
    println!("hop-limit: {:?}", a.unicast_hop_limit());
    let (a_in, a_out) = a.stream(None).map_err(code)?;
    show(
        "stream port 0",
        b.stream(Some(v4(127, 0, 0, 1, 0))).map(drop),
    );
    show("stream any", b.stream(Some(v4(0, 0, 0, 0, 9))).map(drop));
    show(
        "stream v6",
        b.stream(Some(v6([0, 0, 0, 0, 0, 0, 0, 1], 9))).map(drop),
    );
    let (b_in, b_out) = b.stream(Some(a_at)).map_err(code)?;
    println!(
        "b remote is a: {:?}",
        b.remote_address().map(|r| same(&r, &a_at))
    );
    println!("receive 0: {:?}", a_in.receive(0).map(|d| d.len()));
    println!("receive none: {:?}", a_in.receive(4).map(|d| d.len()));
    let datagram = |data: &[u8], to: Option<IpSocketAddress>| OutgoingDatagram {
        data: data.to_vec(),
        remote_address: to,
    };
    println!("send empty: {:?}", b_out.send(&[]));
    println!("check-send > 0: {:?}", b_out.check_send().map(|n| n > 0));
    println!(
        "send to other: {:?}",
        b_out.send(&[datagram(b"x", Some(b_at))]).map_err(code)
    );
    b_out.check_send().map_err(code)?;
    println!(
        "send two: {:?}",
        b_out.send(&[datagram(b"one", None), datagram(b"two", Some(a_at))])
    );
    a_in.subscribe().block();
    let got = a_in.receive(10).map_err(code)?;
    let mut texts: Vec<String> = got
        .iter()
        .map(|d| String::from_utf8_lossy(&d.data).into_owned())
        .collect();
    // One wake-up may see one datagram or both.
    if texts.len() < 2 {
        a_in.subscribe().block();
        texts.extend(
            a_in.receive(10)
                .map_err(code)?
                .iter()
                .map(|d| String::from_utf8_lossy(&d.data).into_owned()),
        );
    }
    println!("a got: {texts:?}");
    println!(
        "from b: {}",
        got.iter().all(|d| same(&d.remote_address, &b_at))
    );
    a_out.check_send().map_err(code)?;
    println!(
        "a send no address: {:?}",
        a_out.send(&[datagram(b"?", None)]).map_err(code)
    );
    a_out.check_send().map_err(code)?;
    println!(
        "a send v6: {:?}",
        a_out
            .send(&[datagram(b"?", Some(v6([0, 0, 0, 0, 0, 0, 0, 1], 9)))])
            .map_err(code)
    );
    a_out.check_send().map_err(code)?;
    println!(
        "a send to b: {:?}",
        a_out.send(&[datagram(b"back", Some(b_at))])
    );
    b_in.subscribe().block();
    let back = b_in.receive(10).map_err(code)?;
    println!(
        "b got: {:?}",
        back.iter()
            .map(|d| String::from_utf8_lossy(&d.data).into_owned())
            .collect::<Vec<_>>()
    );
    Ok(())
}

/// Resolves each name; prints the addresses (sorted) or the error code.
fn lookup(names: &[String]) -> Res {
    let net = instance_network();
    for name in names {
        let stream = match resolve_addresses(&net, name) {
            Ok(s) => s,
            Err(e) => {
                println!("{name:?}: err {}", code(e));
                continue;
            }
        };
        let mut ips = Vec::new();
        let result = loop {
            match stream.resolve_next_address() {
                Ok(Some(ip)) => ips.push(match ip {
                    IpAddress::Ipv4(a) => format!("{a:?}"),
                    IpAddress::Ipv6(a) => format!("{a:?}"),
                }),
                Ok(None) => break Ok(()),
                Err(ErrorCode::WouldBlock) => stream.subscribe().block(),
                Err(e) => break Err(e),
            }
        };
        ips.sort();
        match result {
            Ok(()) => println!("{name:?}: {ips:?}"),
            Err(e) => println!("{name:?}: err {}", code(e)),
        }
    }
    Ok(())
}

/// Rust std::net on wasi:sockets: a client of a native echo server, a listener, UDP.
fn std_net(port: u16) -> Res {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port))?;
    println!("nodelay: {:?}", conn.set_nodelay(true).is_ok());
    println!("peer port: {}", conn.peer_addr()?.port() == port);
    conn.write_all(b"std hello")?;
    let mut buf = [0u8; 9];
    conn.read_exact(&mut buf)?;
    println!("echo: {:?}", String::from_utf8_lossy(&buf));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let at = listener.local_addr()?;
    let mut client = std::net::TcpStream::connect(at)?;
    let (mut server, peer) = listener.accept()?;
    println!("peer is client: {}", peer == client.local_addr()?);
    client.write_all(b"up")?;
    let mut two = [0u8; 2];
    server.read_exact(&mut two)?;
    server.write_all(b"down")?;
    let mut four = [0u8; 4];
    client.read_exact(&mut four)?;
    println!(
        "self: {:?} {:?}",
        String::from_utf8_lossy(&two),
        String::from_utf8_lossy(&four)
    );
    drop(server);
    let mut rest = Vec::new();
    println!(
        "eof: {:?}",
        client.read_to_end(&mut rest).map(|_| rest.len())
    );
    let a = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let b = std::net::UdpSocket::bind("127.0.0.1:0")?;
    b.send_to(b"dgram", a.local_addr()?)?;
    let mut dbuf = [0u8; 16];
    let (n, from) = a.recv_from(&mut dbuf)?;
    println!(
        "udp: {:?} from b {}",
        String::from_utf8_lossy(&dbuf[..n]),
        from == b.local_addr()?
    );
    let resolved: Vec<_> = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", port))?
        .filter(|a| a.is_ipv4())
        .collect();
    println!("localhost v4: {resolved:?}");
    Ok(())
}

/// One std::net connect to HOST:PORT and an exchange; prints the error kind if it fails.
fn connect(host: &str, port: u16) -> Res {
    match std::net::TcpStream::connect((host, port)) {
        Ok(mut conn) => {
            conn.write_all(b"hi")?;
            let mut buf = [0u8; 2];
            conn.read_exact(&mut buf)?;
            println!("connect: ok {:?}", String::from_utf8_lossy(&buf));
        }
        Err(e) => println!("connect: err {:?}", e.kind()),
    }
    Ok(())
}

/// What a policy that allows nothing but `connect 127.0.0.1:PORT` refuses, as wasi:sockets
/// error codes.
fn denied(port: u16) -> Res {
    let net = instance_network();
    let t = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    show("tcp bind", t.start_bind(&net, v4(127, 0, 0, 1, 0)));
    show(
        "tcp connect other port",
        t.start_connect(&net, v4(127, 0, 0, 1, port + 1)),
    );
    show(
        "tcp connect v6",
        create_tcp_socket(IpAddressFamily::Ipv6)
            .map_err(code)?
            .start_connect(&net, v6([0, 0, 0, 0, 0, 0, 0, 1], port)),
    );
    let any = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    show("tcp bind any:0", bind(&any, &net, v4(0, 0, 0, 0, 0)));
    show("tcp listen any:0", any.start_listen());
    let u = create_udp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    show(
        "udp bind 127.0.0.1",
        u.start_bind(&net, v4(127, 0, 0, 1, 0)),
    );
    show(
        "udp bind any:0",
        u.start_bind(&net, v4(0, 0, 0, 0, 0))
            .and_then(|()| u.finish_bind()),
    );
    show(
        "udp stream to other port",
        u.stream(Some(v4(127, 0, 0, 1, port + 1))).map(drop),
    );
    if let Some((_in, out)) = show("udp stream open", u.stream(None)) {
        out.check_send().map_err(code)?;
        let d = OutgoingDatagram {
            data: b"x".to_vec(),
            remote_address: Some(v4(127, 0, 0, 1, port + 1)),
        };
        show("udp send to other port", out.send(&[d]));
    }
    show(
        "lookup localhost",
        resolve_addresses(&net, "localhost").map(drop),
    );
    show(
        "lookup numeric",
        resolve_addresses(&net, "127.0.0.1").map(drop),
    );
    let ok = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    show(
        "tcp connect allowed",
        connect_tcp(&ok, &net, v4(127, 0, 0, 1, port)).map(drop),
    );
    Ok(())
}

/// Accept rules and the sender filter of an open UDP stream, inside one guest: peers on
/// 127.0.0.2 may not reach it.
fn filters() -> Res {
    let net = instance_network();
    let l = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    bind(&l, &net, v4(127, 0, 0, 1, 0)).map_err(code)?;
    listen(&l).map_err(code)?;
    let at = l.local_address().map_err(code)?;
    let from_1 = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    let streams = connect_tcp(&from_1, &net, at).map_err(code)?;
    // The host accepts the connection from 127.0.0.1 and closes it unseen.
    let deadline = wasi::clocks::monotonic_clock::subscribe_duration(200_000_000);
    wasi::io::poll::poll(&[&deadline, &l.subscribe()]);
    show("accept from 127.0.0.1", l.accept().map(drop));
    let (got, end) = read_n(&streams.0, 1);
    println!("filtered client reads: {} {end:?}", got.len());
    let from_2 = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    bind(&from_2, &net, v4(127, 0, 0, 2, 0)).map_err(code)?;
    let _kept = connect_tcp(&from_2, &net, at).map_err(code)?;
    let accepted = accept(&l).map_err(code)?;
    let peer = accepted.0.remote_address().map_err(code)?;
    println!("accepted from: {}", host_of(&peer));

    let a = create_udp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    a.start_bind(&net, v4(127, 0, 0, 1, 0)).map_err(code)?;
    a.finish_bind().map_err(code)?;
    let a_at = a.local_address().map_err(code)?;
    let (a_in, _a_out) = a.stream(None).map_err(code)?;
    for (label, (w, x, y, z)) in [
        ("from 127.0.0.2", (127, 0, 0, 2)),
        ("from 127.0.0.1", (127, 0, 0, 1)),
    ] {
        let b = create_udp_socket(IpAddressFamily::Ipv4).map_err(code)?;
        b.start_bind(&net, v4(w, x, y, z, 0)).map_err(code)?;
        b.finish_bind().map_err(code)?;
        let (_b_in, b_out) = b.stream(Some(a_at)).map_err(code)?;
        b_out.check_send().map_err(code)?;
        let d = OutgoingDatagram {
            data: label.as_bytes().to_vec(),
            remote_address: None,
        };
        b_out.send(&[d]).map_err(code)?;
        let deadline = wasi::clocks::monotonic_clock::subscribe_duration(200_000_000);
        wasi::io::poll::poll(&[&deadline, &a_in.subscribe()]);
        let got = a_in.receive(10).map_err(code)?;
        println!("udp {label}: {} datagrams", got.len());
    }
    Ok(())
}

/// Sockets until the instance's limit.
fn limit() -> Res {
    let mut held = Vec::new();
    loop {
        match create_tcp_socket(IpAddressFamily::Ipv4) {
            Ok(s) => held.push(s),
            Err(e) => {
                println!("made {} then: {}", held.len(), code(e));
                break;
            }
        }
    }
    println!(
        "udp at the limit: {:?}",
        create_udp_socket(IpAddressFamily::Ipv4)
            .map(drop)
            .map_err(code)
    );
    held.pop();
    show(
        "after one closed",
        create_tcp_socket(IpAddressFamily::Ipv4).map(drop),
    );
    Ok(())
}

/// Blocks in one wait until the host interrupts the instance; prints how the call ended.
fn block(what: &str, arg: Option<&str>) -> Res {
    let net = instance_network();
    match what {
        "accept" => {
            let l = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
            bind(&l, &net, v4(127, 0, 0, 1, 0)).map_err(code)?;
            listen(&l).map_err(code)?;
            show("accept", accept(&l).map(drop));
        }
        "read" => {
            let port: u16 = arg.ok_or("port")?.parse()?;
            let s = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
            let (input, _output) = connect_tcp(&s, &net, v4(127, 0, 0, 1, port)).map_err(code)?;
            show_stream("read", input.blocking_read(1));
        }
        "lookup" => {
            let stream = resolve_addresses(&net, arg.ok_or("name")?).map_err(code)?;
            let r = loop {
                match stream.resolve_next_address() {
                    Err(ErrorCode::WouldBlock) => stream.subscribe().block(),
                    done => break done,
                }
            };
            show("lookup", r.map(drop));
        }
        "std-accept" => {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!(
                "std accept: {:?}",
                l.accept().map(drop).map_err(|e| e.kind())
            );
        }
        "std-read" => {
            let port: u16 = arg.ok_or("port")?.parse()?;
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
            let mut buf = [0u8; 1];
            println!("std read: {:?}", s.read(&mut buf).map_err(|e| e.kind()));
        }
        other => return Err(format!("unknown call {other}").into()),
    }
    Ok(())
}

/// Reads asking for all the bytes there are (`u64::MAX`) of a few: each gets what arrived.
fn huge_reads() -> Res {
    let net = instance_network();
    let l = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    bind(&l, &net, v4(127, 0, 0, 1, 0)).map_err(code)?;
    listen(&l).map_err(code)?;
    let c = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    let (cin, cout) = connect_tcp(&c, &net, l.local_address().map_err(code)?).map_err(code)?;
    let (conn, sin, sout) = accept(&l).map_err(code)?;
    show_stream("read none", sin.read(u64::MAX).map(|b| b.len()));
    cout.blocking_write_and_flush(&[7u8; 100])
        .map_err(|e| format!("{e:?}"))?;
    show_stream("read 100", sin.blocking_read(u64::MAX).map(|b| b.len()));
    // blocking-write-and-flush takes at most 4096 bytes a call.
    for chunk in vec![9u8; 150_000].chunks(4096) {
        sout.blocking_write_and_flush(chunk)
            .map_err(|e| format!("{e:?}"))?;
    }
    let (got, _) = read_n(&cin, 150_000);
    println!("read 150000: {}", got.len());
    show_stream("skip none", cin.skip(u64::MAX));
    drop((cin, cout, sin, sout, conn));

    let a = create_udp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    a.start_bind(&net, v4(127, 0, 0, 1, 0)).map_err(code)?;
    a.finish_bind().map_err(code)?;
    let (a_in, _a_out) = a.stream(None).map_err(code)?;
    let b = create_udp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    b.start_bind(&net, v4(127, 0, 0, 1, 0)).map_err(code)?;
    b.finish_bind().map_err(code)?;
    let (_b_in, b_out) = b
        .stream(Some(a.local_address().map_err(code)?))
        .map_err(code)?;
    b_out.check_send().map_err(code)?;
    let d = OutgoingDatagram {
        data: vec![1u8; 100],
        remote_address: None,
    };
    b_out.send(&[d]).map_err(code)?;
    a_in.subscribe().block();
    let got = a_in.receive(u64::MAX).map_err(code)?;
    println!(
        "receive all: {} datagrams of {:?}",
        got.len(),
        got.iter().map(|d| d.data.len()).collect::<Vec<_>>()
    );
    Ok(())
}

/// Starts N lookups at once and keeps them all pending; prints how many started and how the
/// first refusal read.
fn lookup_flood(n: usize) -> Res {
    let net = instance_network();
    let mut pending = Vec::new();
    for i in 0..n {
        match resolve_addresses(&net, &format!("flood{i}.test")) {
            Ok(stream) => pending.push(stream),
            Err(e) => {
                println!("started {} then: {}", pending.len(), code(e));
                return Ok(());
            }
        }
    }
    // The refusal may come at the first resolve-next-address instead.
    let refused = pending
        .iter()
        .filter_map(|s| s.resolve_next_address().err())
        .find(|e| *e != ErrorCode::WouldBlock);
    println!("started {} then: {:?}", pending.len(), refused.map(code));
    Ok(())
}

/// A peer that sends a greeting and then resets the connection.
fn peer_reset(port: u16) -> Res {
    let net = instance_network();
    let s = create_tcp_socket(IpAddressFamily::Ipv4).map_err(code)?;
    let (input, output) = connect_tcp(&s, &net, v4(127, 0, 0, 1, port)).map_err(code)?;
    let (got, end) = read_n(&input, 5);
    println!("greeting: {:?} {end:?}", String::from_utf8_lossy(&got));
    show_stream("read after reset", input.blocking_read(10).map(|b| b.len()));
    show_stream("read again", input.read(10).map(|b| b.len()));
    show_stream(
        "write after reset",
        output.blocking_write_and_flush(b"late"),
    );
    show_stream("write again", output.check_write());
    Ok(())
}
