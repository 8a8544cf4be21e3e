//! `wasi:sockets` served by sockbox: a guest that speaks wasi:sockets 0.2 directly, and Rust
//! std::net, on sockbox's two hosts and on wasmtime-wasi's implementation, with the same
//! answers; then the sockbox policy, limits and interrupt on the wasi side.

use std::time::{Duration, Instant};

use sockbox_tests::{
    Outcome, SilentResolver, both_hosts, closed_port, echo_server, run_on_wasmtime_sockets,
    run_with, silent_server, with_rules,
};

/// Every loopback address and port, and localhost: what wasmtime-wasi's run is given.
const OPEN: &[&str] = &[
    "connect 127.0.0.1",
    "connect [::1]",
    "bind 127.0.0.1",
    "bind [::1]",
    "lookup localhost",
];

fn on_sockbox(args: &[&str], rules: &[&str]) -> Outcome {
    on_sockbox_in("wasi-sockets", args, rules)
}

/// Runs guest `program` on sockbox (the current host) under `rules`.
fn on_sockbox_in(program: &str, args: &[&str], rules: &[&str]) -> Outcome {
    let rules: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
    run_with(
        program,
        args,
        with_rules(&rules).build().expect("socket ctx"),
    )
}

/// Runs the `wasi-sockets` case on wasmtime-wasi and on sockbox (the current host) with the
/// whole loopback open, and requires the same output; returns sockbox's.
fn same_as_wasmtime(args: &[&str]) -> Outcome {
    same_as_wasmtime_in("wasi-sockets", args)
}

/// [`same_as_wasmtime`] for guest `program`.
fn same_as_wasmtime_in(program: &str, args: &[&str]) -> Outcome {
    let theirs = run_on_wasmtime_sockets(program, args);
    let ours = on_sockbox_in(program, args, OPEN);
    assert_eq!(theirs.code, 0, "wasmtime-wasi: {theirs}");
    assert_eq!(ours.code, 0, "sockbox: {ours}");
    let differ: Vec<String> = ours
        .stdout
        .lines()
        .zip(theirs.stdout.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  sockbox:       {a}\n  wasmtime-wasi: {b}"))
        .collect();
    assert!(
        differ.is_empty() && ours.stdout.lines().count() == theirs.stdout.lines().count(),
        "sockbox and wasmtime-wasi differ on {args:?}:\n{}\n--- sockbox\n{ours}\n--- wasmtime-wasi\n{theirs}",
        differ.join("\n")
    );
    ours
}

fn tcp_states() {
    let out = same_as_wasmtime(&["tcp-states"]);
    assert_eq!(out.line("start-bind again"), "err concurrency-conflict");
    assert_eq!(out.line("finish-bind again"), "err not-in-progress");
    assert_eq!(out.line("accept none"), "err would-block");
}

fn tcp_v6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let out = same_as_wasmtime(&["tcp-v6"]);
    assert_eq!(out.line("bind v4-mapped"), "err invalid-argument");
}

fn tcp_options() {
    let out = same_as_wasmtime(&["tcp-options"]);
    assert_eq!(out.line("count"), "Ok(4)");
}

fn tcp_echo() {
    let peer = echo_server("127.0.0.1:0");
    let out = same_as_wasmtime(&["tcp-echo", &peer.port().to_string()]);
    assert_eq!(out.line("bulk"), "1000000 bytes back, equal true", "{out}");
}

fn tcp_refused() {
    let (_held, port) = closed_port();
    let out = same_as_wasmtime(&["tcp-refused", &port.to_string()]);
    assert_eq!(out.line("refused"), "err connection-refused");
}

fn tcp_self() {
    let out = same_as_wasmtime(&["tcp-self"]);
    assert_eq!(out.line("server got"), "\"ping\"");
    assert_eq!(out.line("spliced back"), "\"splice me\"");
}

fn udp() {
    let out = same_as_wasmtime(&["udp"]);
    assert_eq!(out.line("a got"), "[\"one\", \"two\"]", "{out}");
}

fn lookup() {
    let out = same_as_wasmtime(&[
        "lookup",
        "localhost",
        "127.0.0.1",
        "::1",
        "[::1]",
        "",
        "a b",
        "bad/name",
        "127.1",
        "0x7f.0.0.1",
    ]);
    assert_eq!(out.line("\"127.0.0.1\""), "[\"(127, 0, 0, 1)\"]");
    assert_eq!(out.line("\"a b\""), "err invalid-argument");
}

/// A resolver that knows one name (the ASCII form of a non-ASCII one) as 127.0.0.1, and what
/// it was asked.
#[derive(Debug)]
struct OneName(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl sockbox_host::resolver::Resolver for OneName {
    fn getaddrinfo(
        &self,
        host: Option<&str>,
        _service: Option<&str>,
        _hints: sockbox_host::resolver::AddrInfoHints,
    ) -> Result<Vec<sockbox_host::resolver::AddrInfo>, sockbox_host::resolver::LookupError> {
        let host = host.unwrap_or_default().to_string();
        self.0.lock().unwrap().push(host.clone());
        if host != "xn--bcher-kva.localhost" {
            return Err(sockbox_host::resolver::LookupError::new(libc::EAI_NONAME));
        }
        Ok(vec![sockbox_host::resolver::AddrInfo {
            flags: 0,
            address: libc::AF_INET,
            socktype: libc::SOCK_STREAM,
            protocol: libc::IPPROTO_TCP,
            sockaddr: "127.0.0.1:0".parse().unwrap(),
            canonname: None,
        }])
    }

    fn getnameinfo(
        &self,
        _address: std::net::SocketAddr,
        _flags: i32,
    ) -> Result<(String, String), sockbox_host::resolver::LookupError> {
        Err(sockbox_host::resolver::LookupError::new(libc::EAI_NONAME))
    }
}

/// A non-ASCII name is looked up in its ASCII (IDNA) form, as wasmtime-wasi does, and that is
/// the form the policy's lookup rules name; without the rule it is `access-denied`.
fn lookup_of_a_non_ascii_name() {
    for allowed in [true, false] {
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let rules: Vec<String> = if allowed {
            vec!["lookup xn--bcher-kva.localhost".to_string()]
        } else {
            Vec::new()
        };
        let ctx = with_rules(&rules)
            .resolver(OneName(asked.clone()))
            .build()
            .unwrap();
        let out = run_with("wasi-sockets", &["lookup", "bücher.localhost"], ctx);
        out.assert_ok();
        if allowed {
            assert_eq!(
                out.line("\"bücher.localhost\""),
                "[\"(127, 0, 0, 1)\"]",
                "{out}"
            );
            assert_eq!(*asked.lock().unwrap(), ["xn--bcher-kva.localhost"]);
        } else {
            assert_eq!(
                out.line("\"bücher.localhost\""),
                "err access-denied",
                "{out}"
            );
            assert!(asked.lock().unwrap().is_empty());
        }
    }
}

fn std_net() {
    let peer = echo_server("127.0.0.1:0");
    let out = same_as_wasmtime(&["std", &peer.port().to_string()]);
    assert_eq!(out.line("echo"), "\"std hello\"");
    assert_eq!(out.line("udp"), "\"dgram\" from b true");
}

/// Every denial of the sockbox interface is `access-denied` on the wasi side, at the call that
/// names the address; what the policy allows still works.
fn policy_denials() {
    let peer = echo_server("127.0.0.1:0");
    let allow = format!("connect 127.0.0.1:{}", peer.port());
    let out = on_sockbox(&["denied", &peer.port().to_string()], &[&allow]);
    for denied in [
        "tcp bind",
        "tcp connect other port",
        "tcp connect v6",
        "tcp listen any:0",
        "udp bind 127.0.0.1",
        "udp stream to other port",
        "udp send to other port",
        "lookup localhost",
    ] {
        assert_eq!(out.line(denied), "err access-denied", "{denied}: {out}");
    }
    // The any-address, port 0 needs no rule (connect binds so); listening on it does.
    assert_eq!(out.line("tcp bind any:0"), "ok");
    assert_eq!(out.line("udp bind any:0"), "ok");
    assert_eq!(out.line("udp stream open"), "ok");
    assert_eq!(out.line("lookup numeric"), "ok");
    assert_eq!(out.line("tcp connect allowed"), "ok");
    // A plain std::net program: the denial is PermissionDenied.
    let std_out = on_sockbox(
        &["connect", "127.0.0.1", &(peer.port() + 1).to_string()],
        &[&allow],
    );
    assert_eq!(std_out.line("connect"), "err PermissionDenied", "{std_out}");
    let std_ok = on_sockbox(
        &["connect", "127.0.0.1", &peer.port().to_string()],
        &[&allow],
    );
    assert_eq!(std_ok.line("connect"), "ok \"hi\"", "{std_ok}");
}

/// Accept rules close connections from other peers unseen; an open UDP stream hears only peers
/// the guest may send to.
fn policy_filters() {
    let out = on_sockbox(
        &["filters"],
        &[
            "bind 127.0.0.1",
            "bind 127.0.0.2",
            "connect 127.0.0.1",
            "accept 127.0.0.2",
        ],
    );
    assert_eq!(
        out.line("accept from 127.0.0.1"),
        "err would-block",
        "{out}"
    );
    assert_eq!(out.line("accepted from"), "(127, 0, 0, 2)", "{out}");
    assert_eq!(out.line("udp from 127.0.0.2"), "0 datagrams", "{out}");
    assert_eq!(out.line("udp from 127.0.0.1"), "1 datagrams", "{out}");
}

/// wasi:sockets sockets count against the instance's socket limit.
fn socket_limit() {
    let ctx = with_rules(&[]).max_sockets(3).build().unwrap();
    let out = run_with("wasi-sockets", &["limit"], ctx);
    assert_eq!(out.line("made 3 then"), "new-socket-limit", "{out}");
    assert_eq!(out.line("after one closed"), "ok");
    assert_eq!(out.line("udp at the limit"), "Err(\"new-socket-limit\")");
}

/// A wasi:sockets guest blocked in poll wakes when the host interrupts the instance, and its
/// call fails instead of spinning on `would-block`.
fn interrupt() {
    let silent = silent_server("127.0.0.1:0");
    let port = silent.port().to_string();
    for (args, label, expected) in [
        (vec!["block", "accept"], "accept", "err timeout"),
        (vec!["block", "read", &port], "read", "failed"),
        (
            vec!["block", "lookup", "never.test"],
            "lookup",
            "err timeout",
        ),
        (vec!["block", "std-accept"], "std accept", "Err(TimedOut)"),
        (
            vec!["block", "std-read", &port],
            "std read",
            "Err(Uncategorized)",
        ),
    ] {
        let ctx = with_rules(&[
            "bind 127.0.0.1".to_string(),
            format!("connect 127.0.0.1:{port}"),
            "lookup *.test".to_string(),
        ])
        .resolver(SilentResolver)
        .build()
        .unwrap();
        let handle = ctx.interrupt_handle();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            handle.interrupt();
            Instant::now()
        });
        let out = run_with("wasi-sockets", &args, ctx);
        let woke = waker.join().unwrap().elapsed();
        assert_eq!(out.line(label), expected, "{args:?}: {out}");
        assert!(
            woke < Duration::from_secs(2),
            "{args:?} woke {woke:?} after the interrupt"
        );
    }
}

/// `wasi-bridge`: a wasi:sockets connection used through sockbox calls (and the embedder's
/// TCP_NODELAY default seen there), a sockbox listener handed to wasi:sockets code.
fn bridge() {
    let peer = echo_server("127.0.0.1:0");
    for nodelay in [false, true] {
        let ctx = with_rules(&[
            "connect 127.0.0.1".to_string(),
            "bind 127.0.0.1".to_string(),
        ])
        .wasi_tcp_nodelay(nodelay)
        .build()
        .unwrap();
        let out = run_with("cases", &["bridge", &peer.port().to_string()], ctx);
        assert_eq!(out.code, 0, "{out}");
        assert_eq!(out.line("bridged nodelay"), nodelay.to_string(), "{out}");
        assert_eq!(out.line("bridged peer"), peer.to_string());
        assert_eq!(out.line("bridged timeout"), "None");
        assert_eq!(out.line("echo on the wasi stream"), "\"via sockbox\"");
        assert_eq!(out.line("echo on the sockbox socket"), "\"via wasi\"");
        assert_eq!(out.line("wasi after sockbox close"), "\"still\"");
        assert_eq!(out.line("to-wasi listening"), "true streams: false");
        assert_eq!(out.line("wasi accepted"), "\"hi wasi\"");
        assert_eq!(out.line("sockbox got"), "\"hi sockbox\"");
        assert_eq!(out.line("to-wasi connected streams"), "true");
        assert!(
            out.line("to-wasi-tcp of udp")
                .starts_with("err OSError Invalid"),
            "{out}"
        );
        assert!(
            out.line("to-wasi-udp of tcp")
                .starts_with("err OSError Invalid"),
            "{out}"
        );
        assert_eq!(out.line("to-wasi-udp remote is the peer"), "true", "{out}");
        assert_eq!(out.line("from-wasi udp kind"), "SOCK_DGRAM");
    }
}

/// A guest that starts lookups that never answer, without end, is refused past the instance's
/// `max_pending_lookups` (`temporary-resolver-failure`), holding no thread of the host's.
fn lookup_flood() {
    let ctx = with_rules(&["lookup *.test".to_string()])
        .resolver(SilentResolver)
        .max_pending_lookups(4)
        .build()
        .unwrap();
    let out = run_with("wasi-sockets", &["lookup-flood", "100"], ctx);
    assert_eq!(
        out.line("started 4 then"),
        "temporary-resolver-failure",
        "{out}"
    );
}

/// A hostile peer greets and resets the connection: reads and writes then fail as on
/// wasmtime-wasi (never a trap, never a hang).
fn peer_reset() {
    let run = |on_wasmtime: bool| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = std::thread::spawn(move || {
            use std::io::Write;
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(b"hello").unwrap();
            std::thread::sleep(Duration::from_millis(100));
            socket2::SockRef::from(&conn)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
        });
        let args = ["peer-reset", &port.to_string()];
        let out = if on_wasmtime {
            run_on_wasmtime_sockets("wasi-sockets", &args)
        } else {
            on_sockbox(&args, &[&format!("connect 127.0.0.1:{port}")])
        };
        peer.join().unwrap();
        out
    };
    let theirs = run(true);
    let ours = run(false);
    assert_eq!(ours.line("greeting"), "\"hello\" None", "{ours}");
    assert_eq!(
        ours.stdout, theirs.stdout,
        "sockbox:\n{ours}\nwasmtime-wasi:\n{theirs}"
    );
}

/// A tokio program (tokio's net over mio over wasi-libc; connections and a timeout, as tokio's
/// accept cannot work with this wasi-libc: see the guest): the same answers on sockbox and on
/// wasmtime-wasi.
fn tokio_net() {
    let peer = echo_server("127.0.0.1:0");
    let ours = same_as_wasmtime_in("tokio-net", &[&peer.port().to_string()]);
    assert_eq!(ours.line("echo"), "\"tokio hello\"");
    assert_eq!(ours.line("timed out"), "true");
    assert_eq!(ours.line("client 2"), "echoed intact true");
}

/// An unmodified std::net server gets the host's listener by binding its address (`sockbox
/// run --listen`, wasi-sockets#47): no bind rule, and it serves a native client on the socket
/// the host made; a program binding `0.0.0.0` and that port gets it too; another port is
/// still the policy's (denied).
fn listeners_the_host_made() {
    use std::io::{Read, Write};
    for bind in ["exact", "any"] {
        let (listener, addr) = sockbox_tests::preopen_listener("127.0.0.1:0");
        let ctx = sockbox_tests::with_policy(sockbox_tests::policy(&[]))
            .preopen(addr.to_string(), listener)
            .build()
            .unwrap();
        let client = std::thread::spawn(move || {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            c.write_all(b"GET /preopened HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut reply = String::new();
            c.read_to_string(&mut reply).unwrap();
            reply
        });
        let asked = match bind {
            "exact" => addr.to_string(),
            _ => format!("0.0.0.0:{}", addr.port()),
        };
        let out = run_with("std-http-server", &[&asked, "1"], ctx);
        let reply = client.join().unwrap();
        out.assert_ok();
        assert!(
            out.stdout.starts_with(&format!("listening on {addr}\n")),
            "{out}"
        );
        assert!(reply.contains("request 1 for /preopened"), "{reply}");
    }
    let (listener, addr) = sockbox_tests::preopen_listener("127.0.0.1:0");
    let ctx = sockbox_tests::with_policy(sockbox_tests::policy(&[]))
        .preopen(addr.to_string(), listener)
        .build()
        .unwrap();
    let (_held, port) = closed_port();
    let other = format!("127.0.0.1:{port}");
    let out = run_with("std-http-server", &[&other, "1"], ctx);
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("PermissionDenied"), "{out}");
}

both_hosts!(
    listeners_the_host_made,
    lookup_of_a_non_ascii_name,
    tokio_net,
    peer_reset,
    lookup_flood,
    bridge,
    policy_denials,
    policy_filters,
    socket_limit,
    interrupt,
    tcp_states,
    tcp_v6,
    tcp_options,
    tcp_echo,
    tcp_refused,
    tcp_self,
    udp,
    lookup,
    std_net
);
