//! The async host (`add_to_linker_async`): one thread of a tokio runtime serves many guests,
//! each suspended, not blocking the thread, while it waits on a socket.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use sockbox_host::run::AsyncRunner;
use sockbox_tests::{policy, preopen_listener, with_policy};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

/// 200 instances of the echo-server example on one current-thread runtime, each blocked in
/// accept and recv on its own preopened listener, all serving native clients at once; then the
/// interrupt ends them all.
#[tokio::test(flavor = "current_thread")]
async fn one_thread_serves_two_hundred_guests() {
    const GUESTS: usize = 200;
    let runner = AsyncRunner::new().unwrap();
    let wasm = std::fs::read(format!("{}/echo-server.wasm", env!("SOCKBOX_GUESTS_DIR"))).unwrap();
    let component = runner.compile(&wasm).unwrap();
    let mut addrs = Vec::new();
    let mut handles = Vec::new();
    let mut runs = Vec::new();
    let mut outputs = Vec::new();
    for _ in 0..GUESTS {
        let (listener, local) = preopen_listener("127.0.0.1:0");
        let ctx = with_policy(policy(&[]))
            .preopen(local.to_string(), listener)
            .build()
            .unwrap();
        handles.push(ctx.interrupt_handle());
        addrs.push(local);
        let stderr = MemoryOutputPipe::new(1 << 16);
        let mut wasi = WasiCtx::builder();
        wasi.arg("echo-server").stderr(stderr.clone());
        outputs.push(stderr);
        runs.push(runner.run(&component, wasi.build(), ctx));
    }
    // Native clients on their own threads: every guest gets two connections, all at once.
    let start = Instant::now();
    let clients = std::thread::spawn(move || {
        let threads: Vec<_> = addrs
            .into_iter()
            .enumerate()
            .map(|(i, addr)| {
                std::thread::spawn(move || {
                    for round in 0..2 {
                        let mut c = TcpStream::connect(addr).unwrap();
                        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                        let msg = format!("guest {i} round {round} ").repeat(100);
                        c.write_all(msg.as_bytes()).unwrap();
                        c.shutdown(Shutdown::Write).unwrap();
                        let mut back = String::new();
                        c.read_to_string(&mut back).unwrap();
                        assert_eq!(back, msg);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for h in handles {
            h.interrupt();
        }
    });
    let codes = futures_join_all(runs).await;
    let took = start.elapsed();
    clients.join().unwrap();
    for (i, code) in codes.into_iter().enumerate() {
        let err = String::from_utf8_lossy(&outputs[i].contents()).into_owned();
        assert_eq!(code.unwrap(), 0, "guest {i}: {err}");
        assert_eq!(
            err.matches("sent and got back").count(),
            2,
            "guest {i}: {err}"
        );
    }
    println!(
        "{GUESTS} guests served {} connections on one thread in {took:?}",
        GUESTS * 2
    );
}

/// Polls every future on this task until all are done (a minimal join_all).
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|v| v.expect("every future finished"))
        .collect()
}

/// On the async host too, every kind of blocked call wakes with `canceled` when the instance
/// is interrupted.
#[tokio::test(flavor = "current_thread")]
async fn async_host_calls_wake_on_interrupt() {
    let runner = AsyncRunner::new().unwrap();
    let wasm = std::fs::read(format!("{}/policy.wasm", env!("SOCKBOX_GUESTS_DIR"))).unwrap();
    let component = runner.compile(&wasm).unwrap();
    let silent = sockbox_tests::silent_server("127.0.0.1:0");
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
        "create-connection",
    ] {
        let (ctx, args, interrupter) = sockbox_tests::blocked_call(call, silent);
        let stdout = MemoryOutputPipe::new(1 << 16);
        let mut wasi = WasiCtx::builder();
        wasi.arg("policy").args(&args).stdout(stdout.clone());
        let code = runner.run(&component, wasi.build(), ctx).await.unwrap();
        let (elapsed, word) = interrupter.woke();
        let out = String::from_utf8_lossy(&stdout.contents()).into_owned();
        assert_eq!(code, 0, "{call}: {out}");
        if call == "create-connection" {
            // A loopback connect completes at once: nothing to interrupt but the reply wait.
            continue;
        }
        assert_eq!(&word, b"canceled", "{call}: {out}");
        assert!(
            out.contains(&format!("{call}: err OSError Canceled")),
            "{call}: {out}"
        );
        println!("async {call}: woke {elapsed:?} after interrupt()");
        assert!(elapsed < Duration::from_millis(50), "{call}: {elapsed:?}");
    }
}

/// Timeouts and non-blocking sockets behave on the async host as on the sync one.
#[tokio::test(flavor = "current_thread")]
async fn async_host_timeouts_and_nonblocking() {
    let runner = AsyncRunner::new().unwrap();
    let wasm = std::fs::read(format!("{}/cases.wasm", env!("SOCKBOX_GUESTS_DIR"))).unwrap();
    let component = runner.compile(&wasm).unwrap();
    let silent = sockbox_tests::silent_server("127.0.0.1:0");
    let port = silent.port().to_string();
    let run = |args: &[&str]| {
        let stdout = MemoryOutputPipe::new(1 << 16);
        let mut wasi = WasiCtx::builder();
        wasi.arg("cases").args(args).stdout(stdout.clone());
        let ctx = sockbox_tests::allowing_connect(silent.port())
            .build()
            .unwrap();
        let fut = runner.run(&component, wasi.build(), ctx);
        async move {
            assert_eq!(fut.await.unwrap(), 0);
            String::from_utf8_lossy(&stdout.contents()).into_owned()
        }
    };
    let out = run(&["recv-timeout", &port, "300"]).await;
    assert!(out.contains("recv: err TimeoutError : timed out"), "{out}");
    let elapsed: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("elapsed-ms: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (300..550).contains(&elapsed),
        "timed out after {elapsed} ms"
    );
    let out = run(&["nonblocking", &port]).await;
    assert!(out.contains("recv: err BlockingIOError Again"), "{out}");
    assert!(
        out.contains("recv-dontwait: err BlockingIOError Again"),
        "{out}"
    );
}

/// On the async host, lookups resolve on tokio's blocking pool and still pin: a name rule lets
/// the guest connect to what the name resolved to, and nothing before.
#[tokio::test(flavor = "current_thread")]
async fn async_host_lookups_pin_names() {
    let runner = AsyncRunner::new().unwrap();
    let wasm = std::fs::read(format!("{}/policy.wasm", env!("SOCKBOX_GUESTS_DIR"))).unwrap();
    let component = runner.compile(&wasm).unwrap();
    let echo = sockbox_tests::echo_server("127.0.0.1:0");
    let ctx = with_policy(policy(&[&format!("connect localhost:{}", echo.port())]))
        .build()
        .unwrap();
    let stdout = MemoryOutputPipe::new(1 << 16);
    let mut wasi = WasiCtx::builder();
    wasi.args(&["policy", "pinning", &echo.port().to_string()])
        .stdout(stdout.clone());
    assert_eq!(runner.run(&component, wasi.build(), ctx).await.unwrap(), 0);
    let out = String::from_utf8_lossy(&stdout.contents()).into_owned();
    for line in [
        "before-lookup: err PermissionError Access",
        "lookup: ok",
        "after-lookup: ok",
        "create-connection: ok",
        "other-name: err PermissionError Access",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}
