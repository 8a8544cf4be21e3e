//! The interrupt handle wakes a guest blocked in the host.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use sockbox_host::run::Runner;
use sockbox_tests::{
    blocked_call, component, policy, preopen_listener, run_with, silent_server, with_policy,
};
use wasmtime_wasi::WasiCtx;

/// A guest blocked in accept (no timeout) wakes with `canceled` (ECANCELED) within 50 ms of
/// `InterruptHandle::interrupt`.
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

/// Every kind of call that waits wakes with `canceled` when the instance is interrupted:
/// accept, recv (also MSG_WAITALL), recvfrom, sendall into a full buffer, recv-fds, send-fds
/// into a full buffer, a socket-io read under makefile, a `Poller::select`, and every lookup
/// the resolver never answers (getaddrinfo, gethostbyname, gethostbyname_ex, gethostbyaddr,
/// getnameinfo, create_connection of a name). The time from `interrupt()` to the guest's word
/// on the control connection is printed; each must be under 50 ms and their median under
/// 10 ms.
fn interrupt_wakes_every_kind_of_blocked_call() {
    component("policy"); // compile before anything is timed
    let silent = silent_server("127.0.0.1:0");
    let mut took = Vec::new();
    for call in [
        "accept",
        "recv",
        "recv-waitall",
        "recvfrom",
        "sendall",
        "recv-fds",
        "send-fds",
        "makefile-read",
        "poller-select",
        "getaddrinfo",
        "gethostbyname",
        "gethostbyname-ex",
        "gethostbyaddr",
        "getnameinfo",
        "create-connection-name",
    ] {
        let (ctx, args, interrupter) = blocked_call(call, silent);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_with("policy", &args, ctx);
        let (elapsed, word) = interrupter.woke();
        out.assert_ok();
        assert_eq!(&word, b"canceled", "{call}: {out}");
        assert!(
            out.line(call).starts_with("err OSError Canceled: "),
            "{out}"
        );
        // Blocking again after the interrupt fails at once, until the embedder clears it.
        assert!(
            out.line("again").starts_with("err OSError Canceled: "),
            "{out}"
        );
        println!("{call}: woke {elapsed:?} after interrupt()");
        assert!(elapsed < Duration::from_millis(50), "{call}: {elapsed:?}");
        took.push(elapsed);
    }
    took.sort();
    let median = took[took.len() / 2];
    println!("median wake-up: {median:?}");
    assert!(median < Duration::from_millis(10), "median {median:?}");
}

/// On the async host (`AsyncRunner::with_deadlines` and `AsyncInstance::run_for`, what
/// `sockbox run --time-limit` uses) the budget stops a guest whatever it waits on: spinning in
/// wasm, sleeping on a wasi clock, blocked in a socket call. (Async-only by nature.)
#[test]
fn async_deadline_stops_guests_whatever_they_wait_on() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let runner = sockbox_host::run::AsyncRunner::with_deadlines().unwrap();
    let wasm = std::fs::read(format!("{}/policy.wasm", env!("SOCKBOX_GUESTS_DIR"))).unwrap();
    let component = runner.compile(&wasm).unwrap();
    let silent = silent_server("127.0.0.1:0");
    for args in [
        vec!["spin".to_string()],
        vec!["sleep".to_string()],
        vec!["recv-loop".to_string(), silent.port().to_string()],
    ] {
        let ctx = with_policy(policy(&[&format!("connect 127.0.0.1:{}", silent.port())]))
            .build()
            .unwrap();
        let mut wasi = WasiCtx::builder();
        wasi.arg("policy").args(&args);
        let start = Instant::now();
        let err = runtime
            .block_on(async {
                let instance = runner.instantiate(&component, wasi.build(), ctx).await?;
                instance.run_for(Duration::from_millis(300)).await
            })
            .expect_err("the deadline stops the guest");
        let took = start.elapsed();
        assert_eq!(
            err.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::Interrupt),
            "{args:?}: {err:?}"
        );
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(3),
            "{args:?}: {took:?}"
        );
    }
}

/// With an epoch deadline (`Runner::with_deadlines` and `Instance::run_for`), a guest is
/// stopped at its budget whether it spins in wasm or keeps blocking in sockbox calls and
/// ignoring their `canceled`.
#[test]
fn epoch_deadline_stops_spinning_and_blocked_guests() {
    let runner = Runner::with_deadlines().unwrap();
    let wasm = std::fs::read(format!("{}/policy.wasm", env!("SOCKBOX_GUESTS_DIR"))).unwrap();
    let component = runner.compile(&wasm).unwrap();
    let silent = silent_server("127.0.0.1:0");
    for args in [
        vec!["spin".to_string()],
        vec!["recv-loop".to_string(), silent.port().to_string()],
    ] {
        let ctx = with_policy(policy(&[&format!("connect 127.0.0.1:{}", silent.port())]))
            .build()
            .unwrap();
        let mut wasi = WasiCtx::builder();
        wasi.arg("policy").args(&args);
        let instance = runner.instantiate(&component, wasi.build(), ctx).unwrap();
        let start = Instant::now();
        let err = instance
            .run_for(Duration::from_millis(300))
            .expect_err("the deadline stops the guest");
        let took = start.elapsed();
        assert_eq!(
            err.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::Interrupt),
            "{args:?}: {err:?}"
        );
        println!("{args:?}: stopped after {took:?}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(2),
            "{args:?}: {took:?}"
        );
    }
    // A guest that finishes within its budget is not disturbed.
    let echo = sockbox_tests::echo_server("127.0.0.1:0");
    let ctx = with_policy(policy(&[&format!("connect localhost:{}", echo.port())]))
        .build()
        .unwrap();
    let mut wasi = WasiCtx::builder();
    wasi.arg("policy")
        .args(&["pinning", &echo.port().to_string()]);
    let instance = runner.instantiate(&component, wasi.build(), ctx).unwrap();
    assert_eq!(instance.run_for(Duration::from_secs(30)).unwrap(), 0);
}

sockbox_tests::both_hosts!(
    interrupt_wakes_blocked_accept,
    interrupt_wakes_every_kind_of_blocked_call,
);
