//! socket.py's blocking, non-blocking and timeout modes, kept by the host.

use std::net::TcpStream;

use sockbox_tests::{case, policy, preopen_listener, silent_server, with_policy};

/// A recv with a timeout on a silent peer fails with `timeout` at its deadline.
#[test]
fn recv_timeout_fires_at_deadline() {
    let server = silent_server("127.0.0.1:0");
    let port = server.port().to_string();
    let out = case(
        &["recv-timeout", &port, "300"],
        with_policy(policy(&[&format!("connect 127.0.0.1:{port}")])),
    );
    out.assert_ok();
    assert_eq!(out.line("recv"), "err TimeoutError : timed out");
    let elapsed: u64 = out.line("elapsed-ms").parse().unwrap();
    assert!(
        (300..300 + 150).contains(&elapsed),
        "timed out after {elapsed} ms, not at 300 ms"
    );
}

/// A non-blocking recv with nothing to read fails with `again` at once; so does MSG_DONTWAIT.
#[test]
fn nonblocking_recv_would_block() {
    let server = silent_server("127.0.0.1:0");
    let port = server.port().to_string();
    let out = case(
        &["nonblocking", &port],
        with_policy(policy(&[&format!("connect 127.0.0.1:{port}")])),
    );
    out.assert_ok();
    assert_eq!(out.line("getblocking"), "false gettimeout: Some(0ns)");
    assert!(
        out.line("recv")
            .starts_with("err BlockingIOError Again: [Errno"),
        "{out}"
    );
    assert!(
        out.line("recv-dontwait")
            .starts_with("err BlockingIOError Again"),
        "{out}"
    );
}

/// settimeout/gettimeout/getblocking, the default timeout, and what accept gives new sockets.
#[test]
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
