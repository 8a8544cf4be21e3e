//! socket.py's blocking, non-blocking and timeout modes, kept by the host.

use std::net::TcpStream;

use sockbox_tests::{allowing_connect, case, policy, preopen_listener, silent_server, with_policy};

/// A recv with a timeout on a silent peer fails with `timeout` at its deadline.
fn recv_timeout_fires_at_deadline() {
    let server = silent_server("127.0.0.1:0");
    let port = server.port().to_string();
    let out = case(
        &["recv-timeout", &port, "300"],
        allowing_connect(port.parse().unwrap()),
    );
    out.assert_ok();
    assert_eq!(out.line("recv"), "err TimeoutError : timed out");
    let elapsed: u64 = out.line("elapsed-ms").parse().unwrap();
    assert!(
        (300..300 + 250).contains(&elapsed),
        "timed out after {elapsed} ms, not at 300 ms"
    );
    assert_eq!(out.line("recv-large"), "err TimeoutError : timed out");
    let elapsed: u64 = out.line("large-elapsed-ms").parse().unwrap();
    assert!(
        (300..300 + 250).contains(&elapsed),
        "a large recv timed out after {elapsed} ms, not at 300 ms"
    );
}

/// A non-blocking recv with nothing to read fails with `again` at once; so does MSG_DONTWAIT.
fn nonblocking_recv_would_block() {
    let server = silent_server("127.0.0.1:0");
    let port = server.port().to_string();
    let out = case(
        &["nonblocking", &port],
        allowing_connect(port.parse().unwrap()),
    );
    out.assert_ok();
    assert_eq!(out.line("getblocking"), "false gettimeout: Some(0ns)");
    assert!(
        out.line("recv")
            .starts_with("err BlockingIOError Again: [Errno"),
        "{out}"
    );
    for label in ["recv-large", "recv-dontwait", "recv-large-dontwait"] {
        assert!(
            out.line(label).starts_with("err BlockingIOError Again"),
            "{label}: {out}"
        );
    }
}

/// settimeout/gettimeout/getblocking, the default timeout, and what accept gives new sockets.
fn timeout_modes_and_accept_inheritance() {
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let clients = std::thread::spawn(move || {
        let a = TcpStream::connect(local).unwrap();
        let b = TcpStream::connect(local).unwrap();
        (a, b)
    });
    let ctx = with_policy(policy(&[])).preopen(local.to_string(), listener);
    let out = case(&["timeouts"], ctx);
    out.assert_ok();
    drop(clients.join().unwrap());
    assert_eq!(out.line("new"), "None true");
    assert_eq!(out.line("timeout"), "Some(1.5s) true");
    assert_eq!(out.line("zero"), "Some(0ns) false");
    assert_eq!(out.line("blocking"), "None true");
    assert_eq!(out.line("default"), "Some(3s) Some(3s)");
    assert_eq!(out.line("accepted-no-default"), "None");
    assert_eq!(out.line("accepted-default"), "Some(2.5s)");
}

/// sendall's timeout bounds the whole call, not each send: a peer that keeps reading, slowly,
/// lets every single send progress, yet the call fails at its deadline (per-send timeouts
/// would run for tens of seconds here).
fn sendall_timeout_bounds_the_whole_call() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        use std::io::Read;
        let (mut c, _) = listener.accept().unwrap();
        let mut buf = [0u8; 16 * 1024];
        while let Ok(1..) = c.read(&mut buf) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    let out = case(
        &["sendall-timeout", &port, "300"],
        allowing_connect(port.parse().unwrap()),
    );
    out.assert_ok();
    assert_eq!(out.line("sendall"), "err TimeoutError : timed out");
    let elapsed: u64 = out.line("elapsed-ms").parse().unwrap();
    assert!((300..3000).contains(&elapsed), "after {elapsed} ms");
}

/// MSG_WAITALL on a blocking socket collects the peer's two writes into one recv.
fn waitall_waits_for_the_whole_count() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        use std::io::Write;
        let (mut c, _) = listener.accept().unwrap();
        c.write_all(b"hello").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        c.write_all(b"world").unwrap();
        std::thread::sleep(std::time::Duration::from_secs(1));
    });
    let out = case(&["waitall", &port], allowing_connect(port.parse().unwrap()));
    out.assert_ok();
    assert_eq!(out.line("waitall"), "helloworld");
}

/// A connect that timed out is still under way in the kernel: connecting again, even to
/// another address, fails with EALREADY (the socket is not silently left connected to the
/// first address).
fn connect_after_timeout_is_already() {
    // A listener whose accept queue is full drops further SYNs: a connect to it hangs.
    let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stuck_addr = stuck.local_addr().unwrap();
    let raw = socket2::SockRef::from(&stuck);
    raw.listen(0).unwrap();
    let fillers: Vec<_> = (0..3)
        .filter_map(|_| {
            TcpStream::connect_timeout(&stuck_addr, std::time::Duration::from_millis(200)).ok()
        })
        .collect();
    let other = silent_server("127.0.0.1:0");
    let ctx = with_policy(policy(&[
        &format!("connect 127.0.0.1:{}", stuck_addr.port()),
        &format!("connect 127.0.0.1:{}", other.port()),
    ]));
    let out = case(
        &[
            "connect-after-timeout",
            &stuck_addr.port().to_string(),
            &other.port().to_string(),
        ],
        ctx,
    );
    out.assert_ok();
    drop(fillers);
    assert_eq!(out.line("first"), "err TimeoutError : timed out", "{out}");
    assert!(
        out.line("second")
            .starts_with("err BlockingIOError Already"),
        "{out}"
    );
}

sockbox_tests::both_hosts!(
    connect_after_timeout_is_already,
    recv_timeout_fires_at_deadline,
    nonblocking_recv_would_block,
    timeout_modes_and_accept_inheritance,
    sendall_timeout_bounds_the_whole_call,
    waitall_waits_for_the_whole_count,
);
