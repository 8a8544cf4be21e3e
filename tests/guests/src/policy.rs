//! Policy scenarios against native peers: DNS pinning, datagram sender filtering, accept
//! filtering, and the interrupt of every kind of blocked call. Each prints `label: result`
//! lines (see `report`) for `tests/tests/policy.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use sockbox::{
    AddrInfoFlags, AddressFamily as Af, Fd, MsgFlags, SockAddress, Socket, SocketKind as Sk,
    create_connection, getaddrinfo, preopened_sockets, recv_fds, socketpair,
};
use sockbox_test_guests::report;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port = |i: usize| -> u16 { args[i].parse().expect("port") };
    match args[0].as_str() {
        "pinning" => pinning(port(1)),
        "udp-filter" => udp_filter(port(1)),
        "accept-filter" => accept_filter(),
        "block" => block(&args[1], port(2), port(3)),
        "spin" => spin(),
        "sleep" => std::thread::sleep(std::time::Duration::from_secs(20)),
        "leave-open" => leave_open(port(1)),
        "recv-loop" => recv_loop(port(1)),
        other => panic!("unknown scenario {other}"),
    }
}

fn v4(port: u16) -> SockAddress {
    SockAddress::from(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// `connect localhost:PORT` allows what `localhost` resolved to, once it has been resolved.
fn pinning(port: u16) {
    let s = Socket::new(Af::Inet, Sk::Stream, 0).unwrap();
    report("before-lookup", s.connect(v4(port)));
    let answers = getaddrinfo(
        Some("localhost"),
        Some(&port.to_string()),
        Af::Inet,
        Some(Sk::Stream),
        0,
        AddrInfoFlags::empty(),
    );
    report("lookup", answers.map(drop));
    report("after-lookup", s.connect(v4(port)));
    let other = Socket::new(Af::Inet, Sk::Stream, 0).unwrap();
    report("other-port", other.connect(v4(port.wrapping_add(1).max(1))));
    report(
        "create-connection",
        create_connection(("localhost", port)).connect().map(drop),
    );
    report(
        "other-name",
        getaddrinfo(
            Some("example.com"),
            None,
            Af::Unspec,
            None,
            0,
            AddrInfoFlags::empty(),
        )
        .map(drop),
    );
}

/// Sends to an allowed peer, then receives: a datagram from a peer no connect rule allows is
/// dropped unseen, the allowed peer's reply arrives.
fn udp_filter(peer: u16) {
    let s = Socket::new(Af::Inet, Sk::Dgram, 0).unwrap();
    s.bind(v4(0)).unwrap();
    s.sendto(b"hello", v4(peer)).unwrap();
    s.settimeout(Some(Duration::from_secs(10)));
    match s.recvfrom(100) {
        Ok((data, from)) => println!(
            "first: {} from {:?}",
            String::from_utf8_lossy(&data),
            from.map(|a| a.to_string())
        ),
        Err(e) => println!("first: err {e}"),
    }
    // recv (without an address) filters too, and peeking does not let a dropped one through.
    match s.recv_with_flags(100, MsgFlags::PEEK) {
        Ok(data) => println!("peek: {}", String::from_utf8_lossy(&data)),
        Err(e) => println!("peek: err {e}"),
    }
    match s.recv(100) {
        Ok(data) => println!("second: {}", String::from_utf8_lossy(&data)),
        Err(e) => println!("second: err {e}"),
    }
    // recv_fds reads datagrams too: the same sender filter applies.
    match recv_fds(&s, 100, 1, MsgFlags::empty()) {
        Ok(m) => println!(
            "fds: {} from {:?}",
            String::from_utf8_lossy(&m.data),
            m.address.map(|a| a.to_string())
        ),
        Err(e) => println!("fds: err {e}"),
    }
    s.setblocking(false);
    report("third", s.recv(100).map(drop));
}

/// Accepts one connection on the preopened listener and greets it.
fn accept_filter() {
    let (listener, _) = preopened_sockets().unwrap().into_iter().next().unwrap();
    let (conn, peer) = listener.accept().unwrap();
    println!("accepted: {peer}");
    conn.sendall(b"welcome").unwrap();
}

/// Tells the native side over the control connection that it is about to block in `call`,
/// blocks, and writes what the call returned back when it wakes.
fn block(call: &str, control: u16, target: u16) {
    let ctl = Socket::new(Af::Inet, Sk::Stream, 0).unwrap();
    ctl.connect(v4(control)).unwrap();
    let tcp = || {
        let s = Socket::new(Af::Inet, Sk::Stream, 0).unwrap();
        s.connect(v4(target)).unwrap();
        s
    };
    let blocked: Box<dyn FnOnce() -> Result<(), sockbox::Error>> = match call {
        "accept" => {
            let (l, _) = preopened_sockets().unwrap().into_iter().next().unwrap();
            Box::new(move || l.accept().map(drop))
        }
        "recv" => {
            let s = tcp();
            Box::new(move || s.recv(10).map(drop))
        }
        "recv-waitall" => {
            let s = tcp();
            Box::new(move || s.recv_with_flags(10, MsgFlags::WAITALL).map(drop))
        }
        "recvfrom" => {
            let s = Socket::new(Af::Inet, Sk::Dgram, 0).unwrap();
            s.bind(v4(0)).unwrap();
            Box::new(move || s.recvfrom(10).map(drop))
        }
        "sendall" => {
            let s = tcp();
            let big = vec![0u8; 64 << 20];
            Box::new(move || s.sendall(&big))
        }
        "recv-fds" => {
            let (a, b) = socketpair(Af::Unix, Sk::Stream, 0).unwrap();
            Box::new(move || {
                let _keep = &b;
                recv_fds(&a, 10, 1, MsgFlags::empty()).map(drop)
            })
        }
        "send-fds" => {
            let (a, b) = socketpair(Af::Unix, Sk::Stream, 0).unwrap();
            Box::new(move || {
                let chunk = vec![0u8; 1 << 16];
                loop {
                    a.send_fds(&[&chunk], &[Fd::Socket(&b)], MsgFlags::empty(), None)?;
                }
            })
        }
        "makefile-read" => {
            let s = tcp();
            Box::new(move || {
                let mut f = s.makefile("rb")?;
                let mut line = String::new();
                std::io::BufRead::read_line(&mut f, &mut line)
                    .map(drop)
                    .map_err(|e| sockbox::Error::Os {
                        errno: sockbox::Errno::Canceled,
                        message: e.to_string(),
                    })
            })
        }
        "poller-select" => {
            let (l, _) = preopened_sockets().unwrap().into_iter().next().unwrap();
            Box::new(move || {
                let mut poller = sockbox::Poller::new();
                poller.register(&l, sockbox::Interest::READABLE, ())?;
                // Woken by the interrupt: the listener looks ready, and accept says why.
                poller.select(None)?;
                l.accept().map(drop)
            })
        }
        // The host's resolver never answers these (the test's resolver hangs).
        "getaddrinfo" => Box::new(move || {
            getaddrinfo(
                Some("slow.test"),
                Some("80"),
                Af::Unspec,
                None,
                0,
                AddrInfoFlags::empty(),
            )
            .map(drop)
        }),
        "gethostbyname" => Box::new(move || sockbox::gethostbyname("slow.test").map(drop)),
        "gethostbyname-ex" => Box::new(move || sockbox::gethostbyname_ex("slow.test").map(drop)),
        "gethostbyaddr" => Box::new(move || sockbox::gethostbyaddr("192.0.2.1").map(drop)),
        "getnameinfo" => Box::new(move || {
            let at: SocketAddr = "192.0.2.1:80".parse().unwrap();
            sockbox::getnameinfo(at, sockbox::NameInfoFlags::empty()).map(drop)
        }),
        "create-connection-name" => {
            Box::new(move || create_connection(("slow.test", target)).connect().map(drop))
        }
        "create-connection" => Box::new(move || {
            // The listener's backlog is full, so this connect waits.
            create_connection(("127.0.0.1", target)).connect().map(drop)
        }),
        other => panic!("unknown call {other}"),
    };
    ctl.sendall(b"blocking").unwrap();
    let result = blocked();
    let word: &[u8] = match &result {
        Err(e) if e.errno() == Some(sockbox::Errno::Canceled) => b"canceled",
        _ => b"other!!!",
    };
    let _ = ctl.sendall(word);
    report(call, result);
    // A guest that ignores the error and blocks again is stopped again at once.
    let again = Socket::new(Af::Inet, Sk::Stream, 0).unwrap();
    again.connect(v4(target)).map(drop).ok();
    report("again", again.recv(1).map(drop));
}

/// Never returns: only an epoch deadline stops it.
fn spin() {
    let mut n = 0u64;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Retries a recv that blocks, whatever it fails with: the interrupt alone would not stop
/// it; the interrupt and an epoch deadline together do.
fn recv_loop(port: u16) {
    let s = Socket::new(Af::Inet, Sk::Stream, 0).unwrap();
    s.connect(v4(port)).unwrap();
    println!("looping");
    loop {
        let _ = std::hint::black_box(s.recv(1));
    }
}

/// Opens one of everything and leaves it all open for the host to close when the instance
/// goes: a listener, a connected socket, a UDP socket, a Unix pair, a duplicate, a socket-io,
/// a detached handle and a received descriptor.
fn leave_open(port: u16) {
    let listener = Socket::new(Af::Inet, Sk::Stream, 0).unwrap();
    listener.bind(v4(0)).unwrap();
    listener.listen(8).unwrap();
    let conn = Socket::new(Af::Inet, Sk::Stream, 0).unwrap();
    conn.connect(v4(port)).unwrap();
    let udp = Socket::new(Af::Inet, Sk::Dgram, 0).unwrap();
    udp.bind(v4(0)).unwrap();
    let (a, b) = socketpair(Af::Unix, Sk::Stream, 0).unwrap();
    let dup = conn.dup().unwrap();
    let file = conn.makefile("rwb").unwrap();
    let detached = udp.dup().unwrap().detach();
    a.send_fds(&[b"x"], &[Fd::Socket(&listener)], MsgFlags::empty(), None)
        .unwrap();
    let received = recv_fds(&b, 1, 1, MsgFlags::empty()).unwrap();
    assert_eq!(received.fds.len(), 1);
    std::mem::forget((listener, conn, udp, a, b, dup, file, detached, received));
}
