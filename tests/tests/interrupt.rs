//! The interrupt handle wakes a guest blocked in the host.

use std::time::{Duration, Instant};

use sockbox_tests::{policy, preopen_listener, run_with, with_policy};

/// A guest blocked in accept (no timeout) wakes with `interrupted` within 50 ms of
/// `InterruptHandle::interrupt`.
#[test]
fn interrupt_wakes_blocked_accept() {
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let ctx = with_policy(policy(&[]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let handle = ctx.interrupt_handle();
    let interrupted_at = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let at = Instant::now();
        handle.interrupt();
        at
    });
    let out = run_with("cases", &["accept-block"], ctx);
    let returned = Instant::now();
    let at = interrupted_at.join().unwrap();
    out.assert_ok();
    assert!(
        out.line("accept")
            .starts_with("err InterruptedError Interrupted"),
        "{out}"
    );
    let woke_after = returned.duration_since(at);
    assert!(
        woke_after < Duration::from_millis(50),
        "woke {woke_after:?} after the interrupt"
    );
}
