//! The example plugins, run black-box with native peers.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use sockbox_tests::{echo_server, policy, preopen_listener, run_with, with_policy};

/// `echo-server` serves native clients on its preopened listener until interrupted.
#[test]
fn echo_server_serves_native_clients() {
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let ctx = with_policy(policy(&[]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let handle = ctx.interrupt_handle();
    let clients = std::thread::spawn(move || {
        for i in 0..3 {
            let mut c = TcpStream::connect(local).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let msg = format!("message {i} ").repeat(1000);
            c.write_all(msg.as_bytes()).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let mut back = String::new();
            c.read_to_string(&mut back).unwrap();
            assert_eq!(back, msg);
        }
        handle.interrupt();
    });
    let out = run_with("echo-server", &[], ctx);
    clients.join().unwrap();
    out.assert_ok();
    assert_eq!(out.stderr.matches("sent and got back").count(), 3, "{out}");
    assert!(out.stderr.contains("interrupted by the host"), "{out}");
}

/// `echo-client` talks to a native echo server by name.
#[test]
fn echo_client_talks_to_native_server() {
    let server = echo_server("127.0.0.1:0");
    let port = server.port().to_string();
    let p = policy(&["lookup localhost", &format!("connect 127.0.0.1:{port}")]);
    let out = run_with(
        "echo-client",
        &["localhost", &port, "hi there"],
        with_policy(p).build().unwrap(),
    );
    out.assert_ok();
    assert_eq!(out.stdout, "hi there\n");
}
