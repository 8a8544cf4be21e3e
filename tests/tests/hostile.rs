//! The hostile-input matrix: a wasm guest hands the host bad ports, lengths, families, names,
//! paths, handles, sizes, timeouts, options and tokens (`tests/guests/src/hostile.rs`). Each
//! case must end in the typed error listed here: no panic, no trap, no leaked descriptor.
//! (One test in its own binary, so the descriptor count is this test's alone.)

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use sockbox_host::ShareGroup;
use sockbox_tests::{echo_server, fd_count, policy, run_full, settled_fd_count, with_policy};

/// Each case and what it must give: `ok`, or `err <Python exception> <errno>` (no errno for
/// errors without one). `A or B` allows either, where Linux and gVisor (this project's CI
/// sandbox) answer differently.
const EXPECTED: &[(&str, &str)] = &[
    (
        "create/family-other",
        "err OSError AddressFamilyNotSupported",
    ),
    (
        "create/family-unspec",
        "err OSError AddressFamilyNotSupported",
    ),
    ("create/kind-other", "err OSError SocketTypeNotSupported"),
    ("create/kind-raw", "err PermissionError Permission"),
    ("create/proto-bogus", "err OSError Invalid"),
    (
        "create/proto-udp-on-stream",
        "err OSError ProtocolNotSupported",
    ),
    ("create/proto-negative", "err OSError Invalid"),
    // Protocols the rules do not speak of; a kernel without them answers its own error.
    (
        "create/mptcp",
        "err PermissionError Permission or err OSError ProtocolNotSupported",
    ),
    (
        "create/udplite",
        "err PermissionError Permission or err OSError ProtocolNotSupported",
    ),
    (
        "create/unix-kind-other",
        "err OSError SocketTypeNotSupported",
    ),
    (
        "create/raw-family-other",
        "err OSError AddressFamilyNotSupported",
    ),
    ("connect/port-zero", "err PermissionError Access"),
    ("connect/denied-address", "err PermissionError Access"),
    ("connect/denied-port", "err PermissionError Access"),
    ("connect/broadcast", "err PermissionError Access"),
    ("connect/any-address", "err PermissionError Access"),
    (
        "connect/v6-on-v4-socket",
        "err OSError AddressFamilyNotSupported",
    ),
    (
        "connect/unix-on-v4-socket",
        "err OSError AddressFamilyNotSupported",
    ),
    ("connect/v4-mapped-denied", "err PermissionError Access"),
    ("connect/v6-scope-denied", "err PermissionError Access"),
    ("connect/twice", "err OSError IsConn or ok"),
    ("connect-ex/denied", "err PermissionError Access"),
    ("bind/denied-port", "err PermissionError Access"),
    ("bind/denied-any", "err PermissionError Access"),
    ("bind/any-0-then-listen", "err PermissionError Access"),
    ("bind/allowed", "ok"),
    ("bind/twice", "err OSError Invalid"),
    ("bind/after-connect", "err OSError Invalid"),
    ("listen/unbound-denied", "err PermissionError Access"),
    ("listen/udp", "err OSError NotSupported"),
    ("listen/negative-backlog", "ok"),
    ("listen/huge-backlog", "ok"),
    ("accept/not-listening", "err OSError Invalid"),
    ("accept/udp", "err OSError NotSupported"),
    ("accept/nothing-pending", "err BlockingIOError Again"),
    ("sendto/denied", "err PermissionError Access"),
    ("sendto/denied-port", "err PermissionError Access"),
    ("sendto/oversized-datagram", "err OSError MsgSize"),
    (
        "sendto/unix-on-udp",
        "err OSError AddressFamilyNotSupported",
    ),
    ("sendmsg/denied", "err PermissionError Access"),
    ("sendmsg/no-address", "err OSError DestAddrRequired"),
    ("sendmsg/many-buffers", "err OSError MsgSize"),
    ("unix/outside-dir", "err PermissionError Access"),
    ("unix/dotdot-escape", "err PermissionError Access"),
    ("unix/relative", "err PermissionError Access"),
    ("unix/too-long", "err OSError Invalid"),
    ("unix/huge-path", "err OSError Invalid"),
    ("unix/nul-in-path", "err ValueError"),
    ("unix/non-utf8-path", "err FileNotFoundError NoEntry"),
    ("unix/missing", "err FileNotFoundError NoEntry"),
    ("unix/bind-existing-file", "err OSError AddrInUse"),
    ("unix/abstract-denied", "err PermissionError Access"),
    ("unix/abstract-huge", "err PermissionError Access"),
    ("unix/inet-on-unix-socket", "err OSError Invalid"),
    ("unix/unnamed-bind", "ok"),
    ("gai/nul", "err ValueError"),
    ("gai/denied", "err PermissionError Access"),
    ("gai/over-long-name", "err PermissionError Access"),
    ("gai/empty-name", "err gaierror"),
    ("gai/no-host-no-port", "err gaierror"),
    ("gai/bad-service", "err gaierror"),
    ("gai/family-unix", "err gaierror"),
    ("gai/family-other", "err gaierror"),
    ("gai/kind-raw", "err gaierror"),
    ("gai/port-out-of-range", "ok"),
    ("gai/allowed", "ok"),
    ("gai/numeric-nul-service", "err ValueError"),
    ("getnameinfo/denied", "err PermissionError Access"),
    ("getnameinfo/numeric", "ok"),
    ("gethostbyaddr/denied", "err PermissionError Access"),
    ("gethostbyaddr/nul", "err ValueError"),
    ("gethostbyname/nul", "err ValueError"),
    ("gethostbyname/denied", "err PermissionError Access"),
    ("getservbyname/nul", "err ValueError"),
    ("getservbyname/unknown", "err OSError"),
    ("getservbyname/bad-proto", "err OSError"),
    ("getservbyport/bad-proto", "err OSError"),
    ("getprotobyname/unknown", "err OSError"),
    ("if_nametoindex/unknown", "err OSError"),
    ("if_nametoindex/nul", "err ValueError"),
    ("if_indextoname/zero", "err OSError"),
    ("if_indextoname/huge", "err OSError"),
    ("inet_aton/bad", "err OSError"),
    ("inet_pton/v6-as-v4", "err OSError"),
    (
        "inet_pton/family-unix",
        "err OSError AddressFamilyNotSupported",
    ),
    ("inet_ntop/short", "err ValueError"),
    ("inet_ntoa/long", "err ValueError"),
    (
        "create_connection/denied-name",
        "err PermissionError Access",
    ),
    (
        "create_connection/denied-port",
        "err PermissionError Access",
    ),
    (
        "create_connection/denied-source",
        "err PermissionError Access",
    ),
    ("create_server/denied", "err PermissionError Access"),
    ("recv/huge-bufsize", "ok"),
    ("recv/zero", "ok"),
    ("recv_into/empty-buffer", "ok"),
    ("recvfrom/huge-nonblocking", "err BlockingIOError Again"),
    ("recvmsg/huge-nonblocking", "err BlockingIOError Again"),
    ("recv/oob-without-urgent-data", "err OSError Invalid"),
    ("send/empty", "ok"),
    ("send/unconnected", "err BrokenPipeError Pipe"),
    ("recv/unconnected", "err OSError NotConn"),
    ("shutdown/unconnected", "err OSError NotConn"),
    ("getpeername/unconnected", "err OSError NotConn"),
    ("recv_fds/maxfds-zero", "ok"),
    ("recv_fds/maxfds-huge", "ok"),
    ("recv_fds/bufsize-huge", "ok"),
    ("send_fds/too-many", "err OSError Invalid"),
    ("send_fds/on-tcp", "err OSError Invalid"),
    ("send_fds/no-data", "ok"),
    ("socketpair/inet-dgram", "err ValueError"),
    ("socketpair/family-other", "err ValueError"),
    ("sockopt/raw-unknown", "err OSError NoProtocolOption"),
    ("sockopt/raw-bindtodevice", "err PermissionError Permission"),
    ("sockopt/raw-mark", "err PermissionError Permission"),
    ("sockopt/raw-priority", "err PermissionError Permission"),
    ("sockopt/raw-transparent", "err PermissionError Permission"),
    ("sockopt/raw-wrong-size", "err OSError Invalid"),
    ("sockopt/raw-empty", "err OSError Invalid"),
    ("sockopt/raw-huge-value", "err OSError Invalid"),
    ("sockopt/raw-negative-level", "err OSError NoProtocolOption"),
    ("sockopt/raw-negative-buffer-size", "err OSError Invalid"),
    ("sockopt/raw-set-read-only", "err OSError NoProtocolOption"),
    (
        "sockopt/raw-membership-denied",
        "err PermissionError Access",
    ),
    ("sockopt/raw-get-unknown", "err OSError NoProtocolOption"),
    ("sockopt/raw-get-zero-buflen", "ok"),
    ("sockopt/raw-get-huge-buflen", "ok"),
    ("sockopt/raw-get-membership", "err OSError NoProtocolOption"),
    ("sockopt/linger-timeout", "err OSError Invalid"),
    ("sockopt/set-so-error", "err OSError NoProtocolOption"),
    ("sockopt/nodelay-on-udp", "err OSError NoProtocolOption"),
    ("sockopt/ttl-zero", "err OSError Invalid"),
    ("sockopt/ttl-huge", "ok"),
    ("sockopt/keepcnt-huge", "err OSError Invalid"),
    ("sockopt/multicast-denied", "err PermissionError Access"),
    ("sockopt/v6only-on-v4", "err OSError NoProtocolOption"),
    ("timeout/negative", "err ValueError"),
    ("timeout/nan", "err ValueError"),
    ("timeout/infinite", "err ValueError"),
    ("timeout/huge", "err ValueError"),
    ("timeout/raw-max-nanos", "ok"),
    ("timeout/one-nanosecond", "err TimeoutError"),
    ("timeout/default-huge", "ok"),
    ("closed/send", "err OSError BadDescriptor"),
    ("closed/recv", "err OSError BadDescriptor"),
    ("closed/bind", "err OSError BadDescriptor"),
    ("closed/connect", "err OSError BadDescriptor"),
    ("closed/getsockname", "err OSError BadDescriptor"),
    ("closed/setsockopt", "err OSError BadDescriptor"),
    ("closed/close-again", "ok"),
    ("closed/dup", "err OSError BadDescriptor"),
    ("closed/makefile", "err OSError BadDescriptor"),
    ("closed/share", "err OSError BadDescriptor"),
    ("closed/sendfile", "err OSError BadDescriptor"),
    ("closed/send_fds", "err OSError BadDescriptor"),
    ("fd/detached-twice", "err OSError BadDescriptor"),
    ("fd/bogus", "err OSError BadDescriptor"),
    ("fd/negative", "err OSError BadDescriptor"),
    ("share/garbage-token", "err OSError Invalid"),
    ("share/empty-token", "err OSError Invalid"),
    ("share/huge-token", "err OSError Invalid"),
    ("share/token-used-twice", "err OSError Invalid"),
    ("share/park-past-limit", "err OSError TooManyOpen"),
    ("share/use-after-share", "ok"),
    ("socketio/after-close", "err ValueError"),
    ("socketio/bad-mode", "err ValueError"),
    ("sendfile/directory", "err OSError BadDescriptor"),
    ("sendfile/offset-past-end", "ok"),
    ("sendfile/count-huge", "ok"),
    ("sendfile/unconnected", "err BrokenPipeError Pipe"),
    ("sendfile/udp-unconnected", "err ValueError"),
    ("limits/max-sockets", "err OSError TooManyOpen"),
];

#[test]
fn hostile_inputs_get_typed_errors() {
    let tcp = echo_server("127.0.0.1:0");
    let _v6 = std::net::TcpListener::bind(("::1", tcp.port())).ok();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let uport = udp.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let unix = dir.path().join("unix");
    std::fs::create_dir(&unix).unwrap();
    std::fs::write(unix.join("taken"), b"a regular file").unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("f.txt"), b"file contents\n").unwrap();
    let unix_dir = unix.canonicalize().unwrap().display().to_string();

    let rules = [
        format!("connect 127.0.0.1:{}", tcp.port()),
        format!("connect [::1]:{}", tcp.port()),
        format!("connect 127.0.0.1:{uport}"),
        "bind 127.0.0.1:0".to_string(),
        format!("unix {unix_dir}/*"),
        "lookup localhost".to_string(),
        "fd-passing".to_string(),
    ];
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let tcp_port = tcp.port().to_string();
    let udp_port = uport.to_string();
    let run = || {
        let ctx = with_policy(policy(&rules))
            .max_sockets(64)
            .share_group(ShareGroup::new())
            .build()
            .unwrap();
        run_full(
            "hostile",
            &[&tcp_port, &udp_port, &unix_dir],
            ctx,
            &[(&data, "/data")],
        )
    };
    // A first run starts what the process keeps for all later ones (wasmtime-wasi's I/O
    // runtime among them); the descriptors are counted around the second.
    run().assert_ok();
    let before = settled_fd_count();
    let out = run();
    out.assert_ok();
    assert!(out.stdout.ends_with("done\n"), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");

    check(&out.stdout);

    // The async host gives the same answers, and leaves no descriptor either.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let async_runner = sockbox_host::run::AsyncRunner::new().unwrap();
    let wasm = std::fs::read(format!("{}/hostile.wasm", env!("SOCKBOX_GUESTS_DIR"))).unwrap();
    let component = async_runner.compile(&wasm).unwrap();
    let stdout = wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(1 << 20);
    let mut wasi = wasmtime_wasi::WasiCtx::builder();
    wasi.arg("hostile")
        .args(&[&tcp_port, &udp_port, &unix_dir])
        .stdout(stdout.clone());
    wasi.preopened_dir(&data, "/data", wasmtime_wasi::FsPerms::ReadWrite)
        .unwrap();
    let ctx = with_policy(policy(&rules))
        .max_sockets(64)
        .share_group(ShareGroup::new())
        .build()
        .unwrap();
    let code = runtime
        .block_on(async_runner.run(&component, wasi.build(), ctx))
        .expect("the async host runs the matrix without a trap");
    assert_eq!(code, 0);
    let async_stdout = String::from_utf8_lossy(&stdout.contents()).into_owned();
    check(&async_stdout);
    drop((runtime, async_runner, component));

    // Every descriptor the guest had is closed once the store is gone (the native echo server
    // closes its side when it reads the end of each connection, so wait for it a little).
    let deadline = Instant::now() + Duration::from_secs(5);
    while fd_count() > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(fd_count(), before, "descriptors leaked");
}

/// Every case in `stdout` against [`EXPECTED`], and the socket limit.
fn check(stdout: &str) {
    assert!(stdout.ends_with("done\n"), "{stdout}");
    let got: BTreeMap<&str, &str> = stdout.lines().filter_map(|l| l.split_once(": ")).collect();
    let mut failures = Vec::new();
    for (label, want) in EXPECTED {
        let Some(result) = got.get(label) else {
            failures.push(format!("{label}: no result"));
            continue;
        };
        if !matches(result, want) {
            failures.push(format!("{label}: want {want}, got {result}"));
        }
    }
    for label in got.keys() {
        if !label.starts_with("limits/opened")
            && *label != "done"
            && !EXPECTED.iter().any(|(l, _)| l == label)
        {
            failures.push(format!("{label}: not in EXPECTED"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(EXPECTED.len() >= 100, "{} cases", EXPECTED.len());
    // 64 sockets, less the one "share/use-after-share" left parked in the share group: a
    // shared socket counts against its sharer until it is taken or expires.
    assert_eq!(got.get("limits/opened"), Some(&"63"));
}

/// `want` (`ok`, `err CLASS ERRNO`, or alternatives joined by ` or `) against a result line
/// (`ok` or `err CLASS ERRNO: message`).
fn matches(result: &str, want: &str) -> bool {
    let head = result.split(':').next().unwrap_or_default().trim_end();
    want.split(" or ").any(|w| w == head)
}
