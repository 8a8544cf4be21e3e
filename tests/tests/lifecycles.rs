//! Teardown: dropping an instance closes everything it had. 10,000 instances each open one of
//! everything (listener, connection, UDP socket, Unix pair, duplicate, socket-io, detached
//! handle, received descriptor) and leave it open; the process's descriptor count ends where
//! it started. (One test in its own binary, so the count is this test's alone.)

use std::net::TcpListener;
use std::time::Instant;

use sockbox_tests::{fd_count, policy, run_with, settled_fd_count, with_policy};

#[test]
fn ten_thousand_lifecycles_leave_no_descriptor() {
    // A native peer that accepts and closes at once.
    let peer = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = peer.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in peer.incoming() {
            drop(conn);
        }
    });
    let rules = [
        format!("connect 127.0.0.1:{port}"),
        "bind 127.0.0.1:0".to_string(),
        "fd-passing".to_string(),
    ];
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let policy = policy(&rules);
    let port = port.to_string();
    let once = || {
        let ctx = with_policy(policy.clone()).build().unwrap();
        run_with("policy", &["leave-open", &port], ctx).assert_ok();
    };
    // The first run starts what the process keeps for all (wasmtime-wasi's I/O runtime).
    once();
    let before = settled_fd_count();
    let start = Instant::now();
    let mut peak = before;
    for i in 0..10_000 {
        once();
        if i % 1000 == 0 {
            peak = peak.max(fd_count());
        }
    }
    let took = start.elapsed();
    println!("10,000 lifecycles in {took:?}; descriptors before {before}, peak {peak}");
    assert_eq!(settled_fd_count(), before, "descriptors leaked");
    // Each instance's descriptors are gone when it is: the count never grew with the runs.
    assert!(peak < before + 32, "peak {peak}");
}
