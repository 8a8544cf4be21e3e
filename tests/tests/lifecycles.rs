//! Teardown: dropping an instance closes everything it had. 10,000 instances each open one of
//! everything (listener, connection, UDP socket, Unix pair, duplicate, socket-io, detached
//! handle, received descriptor) and leave it open; the process's descriptor count ends where
//! it started. (One test in its own binary, so the count is this test's alone.)

use std::net::TcpListener;
use std::time::{Duration, Instant};

use sockbox_tests::{policy, run_with, with_policy};

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The count once it has held still for 200 ms (the native peer closes its ends on its own
/// thread).
fn settled_fd_count() -> usize {
    let mut last = fd_count();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(200));
        let now = fd_count();
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

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
