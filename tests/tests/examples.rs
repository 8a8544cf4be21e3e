//! The example plugins, run black-box with native peers.

use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
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

/// One HTTP response read from `r`: the head's lines and the body (`Content-Length` bytes,
/// none for a HEAD request).
fn read_response(r: &mut impl BufRead, head_only: bool) -> (Vec<String>, Vec<u8>) {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "closed in a head: {head:?}"
        );
        if line == "\r\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    let length: usize = header(&head, "content-length").parse().unwrap();
    let mut body = vec![0; if head_only { 0 } else { length }];
    r.read_exact(&mut body).unwrap();
    (head, body)
}

/// A header's value in a response head ("" when absent).
fn header<'a>(head: &'a [String], name: &str) -> &'a str {
    head.iter()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or("")
}

/// `file-server` is a small HTTP/1.1 server: one thread serves every client at once (an idle
/// client blocks nobody and is closed after the idle time), keep-alive with pipelined
/// requests, HEAD, single ranges, Content-Type, 404/405/416/400, sendfile bodies, and it
/// serves on after a client resets mid-response.
fn file_server_sends_files() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 7).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &big).unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello from sendfile\n").unwrap();
    std::fs::create_dir(dir.path().join("site")).unwrap();
    std::fs::write(dir.path().join("site/index.html"), "<p>index</p>").unwrap();
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let ctx = with_policy(policy(&[]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let handle = ctx.interrupt_handle();
    let big2 = big.clone();
    let client = std::thread::spawn(move || {
        let big = big2;
        // An idle client first: everyone else is served meanwhile.
        let mut idle = TcpStream::connect(local).unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let idle_since = std::time::Instant::now();

        // A client that asks for the big file and resets before reading it.
        let reset = TcpStream::connect(local).unwrap();
        write!(&reset, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        socket2::SockRef::from(&reset)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(reset);

        // Keep-alive: pipelined requests on one connection.
        let c = TcpStream::connect(local).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut w = c.try_clone().unwrap();
        let mut r = std::io::BufReader::new(c);
        write!(
            w,
            "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n\
             HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\n\r\n\
             GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=-5\r\n\r\n"
        )
        .unwrap();
        let hello = read_response(&mut r, false);
        let head = read_response(&mut r, true);
        let part = read_response(&mut r, false);
        let tail = read_response(&mut r, false);
        write!(
            w,
            "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=99999999-\r\n\r\n\
             GET /site/ HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /nope.txt HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n\
             POST /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n\
             GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let unsatisfiable = read_response(&mut r, false);
        let index = read_response(&mut r, false);
        let missing = read_response(&mut r, false);
        let escape = read_response(&mut r, false);
        let escape_encoded = read_response(&mut r, false);
        let post = read_response(&mut r, false);
        let whole = read_response(&mut r, false);
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();

        // A malformed request gets 400 and the connection closes.
        let mut bad = TcpStream::connect(local).unwrap();
        bad.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        bad.write_all(b"NONSENSE\r\n\r\n").unwrap();
        let mut bad_reply = String::new();
        bad.read_to_string(&mut bad_reply).unwrap();

        // The idle client is closed after the server's idle time (2 s here).
        let mut nothing = Vec::new();
        let idle_closed = idle.read_to_end(&mut nothing).is_ok() && nothing.is_empty();
        let idle_for = idle_since.elapsed();
        handle.interrupt();

        assert!(hello.0[0] == "HTTP/1.1 200 OK", "{hello:?}");
        assert_eq!(hello.1, b"hello from sendfile\n");
        assert_eq!(
            header(&hello.0, "content-type"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(header(&hello.0, "connection"), "keep-alive");
        assert_eq!(head.0[0], "HTTP/1.1 200 OK");
        assert_eq!(header(&head.0, "content-length"), big.len().to_string());
        assert_eq!(header(&head.0, "content-type"), "application/octet-stream");
        assert_eq!(part.0[0], "HTTP/1.1 206 Partial Content");
        assert_eq!(
            header(&part.0, "content-range"),
            format!("bytes 10-19/{}", big.len())
        );
        assert_eq!(part.1, &big[10..20]);
        assert_eq!(tail.1, &big[big.len() - 5..]);
        assert_eq!(unsatisfiable.0[0], "HTTP/1.1 416 Range Not Satisfiable");
        assert_eq!(
            header(&unsatisfiable.0, "content-range"),
            format!("bytes */{}", big.len())
        );
        assert_eq!(index.1, b"<p>index</p>");
        assert_eq!(header(&index.0, "content-type"), "text/html; charset=utf-8");
        assert_eq!(missing.0[0], "HTTP/1.1 404 Not Found");
        assert_eq!(escape.0[0], "HTTP/1.1 404 Not Found");
        assert_eq!(escape_encoded.0[0], "HTTP/1.1 404 Not Found");
        assert_eq!(post.0[0], "HTTP/1.1 405 Method Not Allowed");
        assert_eq!(header(&post.0, "allow"), "GET, HEAD");
        assert_eq!(header(&whole.0, "connection"), "close");
        assert!(whole.1 == big, "big.bin arrived as {} bytes", whole.1.len());
        assert!(
            rest.is_empty(),
            "{} bytes after the last response",
            rest.len()
        );
        assert!(
            bad_reply.starts_with("HTTP/1.1 400 Bad Request"),
            "{bad_reply}"
        );
        assert!(idle_closed, "the idle client was not closed");
        assert!(
            idle_for < Duration::from_secs(15),
            "the idle client was closed after {idle_for:?}"
        );
    });
    let out = sockbox_tests::run_full("file-server", &["2"], ctx, &[(dir.path(), "/srv")]);
    let checked = client.join();
    out.assert_ok();
    if let Err(e) = checked {
        panic!("{:?}\n{out}", e.downcast_ref::<String>());
    }
    assert!(
        out.stderr
            .contains(&format!("GET /big.bin 200 {} bytes", big.len())),
        "{out}"
    );
    assert!(out.stderr.contains("interrupted by the host"), "{out}");
}

/// `http-get` against a native HTTP server: the body reaches stdout byte for byte, framed by
/// Content-Length, by chunks (with extensions and trailers) or by the connection's end, after
/// an interim 100 response; a 404 exits with status 1.
fn http_get_streams_bodies() {
    let binary: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 256) as u8).collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let body = binary.clone();
    let server = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for conn in listener.incoming().take(4) {
            let conn = conn.unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut w = conn.try_clone().unwrap();
            let mut r = std::io::BufReader::new(conn);
            let mut request = Vec::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                request.push(line.trim_end().to_string());
            }
            match request[0].split(' ').nth(1).unwrap() {
                "/length" => write!(
                    w,
                    "HTTP/1.1 100 Continue\r\n\r\n\
                     HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .and_then(|()| w.write_all(&body)),
                "/chunked" => {
                    write!(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
                    for (i, chunk) in body.chunks(70_001).enumerate() {
                        write!(w, "{:X};n={i}\r\n", chunk.len()).unwrap();
                        w.write_all(chunk).unwrap();
                        w.write_all(b"\r\n").unwrap();
                    }
                    w.write_all(b"0\r\nX-Trailer: yes\r\n\r\n")
                }
                "/close" => w
                    .write_all(b"HTTP/1.0 200 OK\r\n\r\n")
                    .and_then(|()| w.write_all(&body)),
                _ => w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\ngone"),
            }
            .unwrap();
            requests.push(request);
        }
        requests
    });
    let p = || policy(&["lookup localhost", &format!("connect 127.0.0.1:{port}")]);
    let get = |path: &str| {
        let args = ["localhost", &port.to_string(), path];
        run_with("http-get", &args, with_policy(p()).build().unwrap())
    };
    let (length, chunked, close, missing) = (
        get("/length"),
        get("/chunked"),
        get("/close"),
        get("/missing"),
    );
    let requests = server.join().unwrap();
    for (out, status) in [
        (&length, "HTTP/1.1 200 OK"),
        (&chunked, "HTTP/1.1 200 OK"),
        (&close, "HTTP/1.0 200 OK"),
    ] {
        out.assert_ok();
        assert_eq!(out.stderr.trim_end(), status, "{out}");
        assert!(
            out.raw_stdout == binary,
            "{} bytes: {out}",
            out.raw_stdout.len()
        );
    }
    assert_eq!(missing.code, 1, "{missing}");
    assert_eq!(missing.stdout, "gone");
    assert_eq!(requests[0][0], "GET /length HTTP/1.1");
    assert!(
        requests[0].contains(&"Host: localhost".to_string()),
        "{requests:?}"
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
    http_get_streams_bodies,
    supervisor_passes_connections_to_worker,
    chat_server_serves_a_thousand_clients_at_once,
    wstd_echo_serves_clients_concurrently,
);
