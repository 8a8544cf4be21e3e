//! The interrupt handle wakes a guest blocked in the host.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use sockbox_tests::{component, policy, preopen_listener, run_with, with_policy};

/// A guest blocked in accept (no timeout) wakes with `canceled` (ECANCELED) within 50 ms of
/// `InterruptHandle::interrupt`.
#[test]
fn interrupt_wakes_blocked_accept() {
    component("cases"); // compile before anything is timed
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let control = TcpListener::bind("127.0.0.1:0").unwrap();
    let control_port = control.local_addr().unwrap().port();
    let ctx = with_policy(policy(&[&format!("connect 127.0.0.1:{control_port}")]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let handle = ctx.interrupt_handle();
    let interrupted_at = std::thread::spawn(move || {
        // The guest says "blocking" just before it calls accept.
        let (mut ctl, _) = control.accept().unwrap();
        let mut word = [0u8; 8];
        ctl.read_exact(&mut word).unwrap();
        assert_eq!(&word, b"blocking");
        std::thread::sleep(Duration::from_millis(200));
        let at = Instant::now();
        handle.interrupt();
        at
    });
    let out = run_with("cases", &["accept-block", &control_port.to_string()], ctx);
    let returned = Instant::now();
    let at = interrupted_at.join().unwrap();
    out.assert_ok();
    assert!(
        out.line("accept").starts_with("err OSError Canceled: "),
        "{out}"
    );
    let woke_after = returned.duration_since(at);
    assert!(
        woke_after < Duration::from_millis(50),
        "woke {woke_after:?} after the interrupt"
    );
}
