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
