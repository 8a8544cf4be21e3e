//! The example plugins, run black-box with native peers.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use sockbox_tests::{
    current_host, echo_server, on_host, policy, preopen_listener, run_with, with_policy,
};

/// `echo-server` serves native clients on its preopened listener until interrupted.
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

/// `file-server` serves files from a preopened directory with sendfile; 404 otherwise.
fn file_server_sends_files() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 7).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from sendfile\n").unwrap();
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let ctx = with_policy(policy(&[]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let handle = ctx.interrupt_handle();
    let get = move |path: &str| -> (String, Vec<u8>) {
        let mut c = TcpStream::connect(local).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&all[..split]).into_owned();
        (head, all[split + 4..].to_vec())
    };
    let client = std::thread::spawn(move || {
        let small = get("/hello.txt");
        let large = get("/big.bin");
        let missing = get("/nope.txt");
        let escape = get("/../etc/passwd");
        handle.interrupt();
        (small, large, missing, escape)
    });
    let out = sockbox_tests::run_full("file-server", &[], ctx, &[(dir.path(), "/srv")]);
    let (small, large, missing, escape) = client.join().unwrap();
    out.assert_ok();
    assert!(small.0.starts_with("HTTP/1.1 200 OK"), "{}", small.0);
    assert_eq!(small.1, b"hello from sendfile\n");
    assert!(large.0.contains(&format!("Content-Length: {}", big.len())));
    assert!(large.1 == big, "big.bin arrived as {} bytes", large.1.len());
    assert!(missing.0.starts_with("HTTP/1.1 404"));
    assert!(escape.0.starts_with("HTTP/1.1 404"));
    assert!(
        out.stderr
            .contains(&format!("/big.bin {} bytes", big.len())),
        "{out}"
    );
}

/// The fd-passing pair: the supervisor accepts and passes each connection to the worker over
/// a Unix socket; the worker serves it.
fn supervisor_passes_connections_to_worker() {
    let host = current_host();
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work.sock");
    let unix = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    unix.bind(&socket2::SockAddr::unix(&work).unwrap()).unwrap();
    unix.listen(4).unwrap();
    let worker_ctx = with_policy(policy(&["fd-passing"]))
        .preopen(format!("unix:{}", work.display()), unix)
        .build()
        .unwrap();
    let worker_stop = worker_ctx.interrupt_handle();
    let worker = std::thread::spawn(move || on_host(host, || run_with("worker", &[], worker_ctx)));

    let (listener, local) = preopen_listener("127.0.0.1:0");
    let p = policy(&[&format!("unix {}", work.display()), "fd-passing"]);
    let sup_ctx = with_policy(p)
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let sup_stop = sup_ctx.interrupt_handle();
    let work_arg = work.display().to_string();
    let supervisor =
        std::thread::spawn(move || on_host(host, || run_with("supervisor", &[&work_arg], sup_ctx)));

    for i in 0..3 {
        let mut c = TcpStream::connect(local).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        writeln!(c, "hello {i}").unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, format!("HELLO {i}\n"));
    }
    sup_stop.interrupt();
    let sup = supervisor.join().unwrap();
    worker_stop.interrupt();
    let work_out = worker.join().unwrap();
    sup.assert_ok();
    work_out.assert_ok();
    assert_eq!(
        work_out.stderr.matches("worker: served 127.0.0.1:").count(),
        3,
        "{work_out}"
    );
}

/// `chat-server` serves 1,000 native clients at once from one wasm thread with a `Poller`:
/// all connect, then each sends a line, then each reads it back.
fn chat_server_serves_a_thousand_clients_at_once() {
    let host = current_host();
    const CLIENTS: usize = 1000;
    let sa: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener.bind(&sa.into()).unwrap();
    listener.listen(CLIENTS as i32).unwrap();
    let local = listener.local_addr().unwrap().as_socket().unwrap();
    let ctx = with_policy(policy(&[]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let guest =
        std::thread::spawn(move || on_host(host, || run_with("chat-server", &["1000"], ctx)));
    let start = std::time::Instant::now();
    let mut conns: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| {
            let c = TcpStream::connect(local).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            c
        })
        .collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(format!("line {i} from a native client\n").as_bytes())
            .unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let want = format!("line {i} from a native client\n");
        let mut got = vec![0u8; want.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), want);
    }
    let took = start.elapsed();
    drop(conns);
    let out = guest.join().unwrap();
    out.assert_ok();
    println!("{CLIENTS} clients served in {took:?}");
    assert_eq!(
        out.stdout,
        format!("chat-server: served {CLIENTS} clients, at most {CLIENTS} at once\n"),
        "{out}"
    );
}

/// `wstd-echo` serves 50 clients at once as wstd tasks: wstd's reactor waits on sockbox
/// sockets through their pollables.
fn wstd_echo_serves_clients_concurrently() {
    let host = current_host();
    const CLIENTS: usize = 50;
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let ctx = with_policy(policy(&[]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let guest = std::thread::spawn(move || on_host(host, || run_with("wstd-echo", &["50"], ctx)));
    // Every client connects before any sends: the server must hold all 50 at once.
    let mut conns: Vec<TcpStream> = (0..CLIENTS)
        .map(|_| {
            let c = TcpStream::connect(local).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            c
        })
        .collect();
    for (i, c) in conns.iter_mut().enumerate().rev() {
        c.write_all(format!("client {i}").as_bytes()).unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        let want = format!("client {i}");
        let mut got = vec![0u8; want.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(String::from_utf8_lossy(&got), want);
        c.shutdown(Shutdown::Write).unwrap();
    }
    drop(conns);
    let out = guest.join().unwrap();
    out.assert_ok();
    let bytes: usize = (0..CLIENTS).map(|i| format!("client {i}").len()).sum();
    assert_eq!(
        out.stdout,
        format!("wstd-echo: served {CLIENTS} clients, {bytes} bytes\n"),
        "{out}"
    );
}

sockbox_tests::both_hosts!(
    echo_server_serves_native_clients,
    echo_client_talks_to_native_server,
    file_server_sends_files,
    supervisor_passes_connections_to_worker,
    chat_server_serves_a_thousand_clients_at_once,
    wstd_echo_serves_clients_concurrently,
);
