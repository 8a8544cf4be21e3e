//! Python guests: CPython's own `socket.py`, `http.client`, `urllib.request`, `socketserver` and
//! `selectors` running on sockbox (`python/sockbox`), built with componentize-py by the harness
//! and run in the real host against native peers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use sockbox_host::SocketCtx;
use sockbox_host::run::AsyncRunner;

use sockbox_tests::{
    Outcome, allowing_connect, captured_wasi, closed_port, policy, preopen_listener,
    python_component, read_at_start, recv_fds, run_component, send_fds, silent_server, udp_echo,
    with_policy,
};

/// Runs a case of `tests/python/cases.py` under `ctx`, with host directories preopened.
fn case(args: &[&str], ctx: SocketCtx, dirs: &[(&Path, &str)]) -> Outcome {
    let component = python_component("tests/python", "cases");
    run_component(&component, "cases", args, ctx, dirs)
}

/// Builds and compiles the cases plugin (once per test binary), for a test whose native
/// clients connect to a preopened listener before `case` runs: their read timeouts must not
/// count a cold build (componentize-py and compiling take tens of seconds on a loaded CI).
fn cases_built() {
    python_component("tests/python", "cases");
}

/// Runs case `name` with `port` and `rest` as its arguments, allowed to connect to
/// `127.0.0.1:port` and nothing else.
fn case_on(port: u16, name: &str, rest: &[&str], dirs: &[(&Path, &str)]) -> Outcome {
    let port_arg = port.to_string();
    let args: Vec<&str> = [name, port_arg.as_str()]
        .into_iter()
        .chain(rest.iter().copied())
        .collect();
    case(&args, allowing_connect(port).build().unwrap(), dirs)
}

/// A native HTTP/1.1 server answering one request with `body`; the request's head comes back
/// through the join handle.
fn http_server(body: &'static str) -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(conn);
        let mut head = String::new();
        while reader.read_line(&mut head).unwrap() > 2 {}
        let mut conn = reader.into_inner();
        write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        head
    });
    (port, server)
}

/// http.client's GET reaches a native server and reads its answer.
fn http_client_gets_from_a_native_server() {
    let (port, server) = http_server("hello from native");
    let out = case_on(port, "http_get", &["/hello"], &[]);
    out.assert_ok();
    let head = server.join().unwrap();
    assert!(head.starts_with("GET /hello HTTP/1.1\r\n"), "{head}");
    assert!(head.contains("X-Guest: python\r\n"), "{head}");
    assert_eq!(out.line("status"), "200 OK");
    assert_eq!(out.line("type"), "text/plain");
    assert_eq!(out.line("body"), "hello from native");
}

/// A socketserver.TCPServer on a preopened listener serves native clients one after another
/// (its waits go through selectors on sockbox's `select`).
fn socketserver_serves_native_clients() {
    cases_built();
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let ctx = with_policy(policy(&[]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let clients = std::thread::spawn(move || {
        for i in 0..3 {
            let mut c = TcpStream::connect(local).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut reader = BufReader::new(c.try_clone().unwrap());
            for word in ["hello", "world"] {
                writeln!(c, "{word} {i}").unwrap();
                let mut back = String::new();
                reader.read_line(&mut back).unwrap();
                assert_eq!(back, format!("{} {i}\n", word.to_uppercase()));
            }
            writeln!(c, "bye").unwrap();
        }
    });
    let out = case(&["serve", "3"], ctx, &[]);
    let clients = clients.join();
    out.assert_ok();
    clients.unwrap();
    assert_eq!(out.line("served"), format!("3 on {local}"));
}

/// An asyncio server (selector event loop on sockbox's `select`) serves 20 native clients at
/// once: all connect first, then they send in reverse order, which a server serving one
/// connection at a time could not answer.
fn asyncio_serves_clients_concurrently() {
    cases_built();
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let ctx = with_policy(policy(&[]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let clients = std::thread::spawn(move || {
        let conns: Vec<TcpStream> = (0..20)
            .map(|_| {
                let c = TcpStream::connect(local).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                c
            })
            .collect();
        for (i, mut c) in conns.into_iter().enumerate().rev() {
            writeln!(c, "client {i}").unwrap();
            let mut back = String::new();
            c.read_to_string(&mut back).unwrap();
            assert_eq!(back, format!("CLIENT {i}\n"));
        }
    });
    let out = case(&["asyncio_serve", "20"], ctx, &[]);
    let clients = clients.join();
    out.assert_ok();
    clients.unwrap();
    assert_eq!(out.line("asyncio served"), "20");
}

/// create_connection and makefile("rw"): a line protocol with a native server.
fn makefile_line_protocol() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut writer = conn.try_clone().unwrap();
        for line in BufReader::new(conn).lines() {
            writeln!(writer, "got {}", line.unwrap()).unwrap();
        }
    });
    let out = case_on(port, "lines", &[], &[]);
    server.join().unwrap();
    out.assert_ok();
    let replies: Vec<_> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("reply: "))
        .collect();
    assert_eq!(replies, ["got alpha", "got beta", "got gamma"], "{out}");
    assert_eq!(out.line("io refs closed"), "True");
}

/// socket.recv_fds and socket.send_fds with a native peer: the guest uses a socket it was
/// passed, and passes back a socket of its own and a file.
fn fd_passing_with_a_native_peer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("peer.sock");
    std::fs::write(dir.path().join("note.txt"), "a file the guest passed\n").unwrap();
    let listener = UnixListener::bind(&path).unwrap();
    let peer = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let (mut ours, theirs) = UnixStream::pair().unwrap();
        send_fds(&conn, b"take this", &[theirs.as_fd()]);
        drop(theirs);
        let mut got = vec![0u8; 31];
        ours.read_exact(&mut got).unwrap();
        let (data, fds) = recv_fds(&conn);
        assert_eq!(data, b"take these");
        assert_eq!(fds.len(), 2);
        let mut pair_end = UnixStream::from(fds[0].try_clone().unwrap());
        // The host keeps its sockets non-blocking, and the passed one shares that flag.
        pair_end.set_nonblocking(false).unwrap();
        pair_end
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut from_pair = String::new();
        pair_end.read_to_string(&mut from_pair).unwrap();
        let file = read_at_start(fds[1].try_clone().unwrap());
        (&conn).write_all(b"thanks").unwrap();
        (String::from_utf8(got).unwrap(), from_pair, file)
    });
    let ctx = with_policy(policy(&[&format!("unix {}", path.display()), "fd-passing"]))
        .build()
        .unwrap();
    let out = case(
        &["fds", path.to_str().unwrap(), "/data/note.txt"],
        ctx,
        &[(dir.path(), "/data")],
    );
    out.assert_ok();
    let (via_passed, via_pair, file) = peer.join().unwrap();
    assert_eq!(via_passed, "hello through the passed socket");
    assert_eq!(via_pair, "hello from the guest's socketpair");
    assert_eq!(file, "a file the guest passed\n");
    assert_eq!(out.line("received"), "take this 1 fd(s), flags 0");
    assert_eq!(out.line("passed family"), "AF_UNIX SOCK_STREAM");
    assert_eq!(out.line("sent"), "10");
    assert_eq!(out.line("peer says"), "thanks");
}

/// socket.sendfile (socket.py's read-and-send loop) and sockbox.sendfile (the host's
/// zero-copy sendfile(2), whole and a slice) deliver the file's bytes.
fn sendfile_sends_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..1_000_003u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let receiver = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        conn.read_to_end(&mut all).unwrap();
        all
    });
    let out = case_on(
        port,
        "sendfile",
        &["/data/big.bin"],
        &[(dir.path(), "/data")],
    );
    out.assert_ok();
    let got = receiver.join().unwrap();
    let mut want = data.clone();
    want.extend_from_slice(&data);
    want.extend_from_slice(&data[10..15]);
    assert!(
        got == want,
        "received {} bytes, wanted {}",
        got.len(),
        want.len()
    );
    assert_eq!(out.line("socket.sendfile"), "1000003");
    assert_eq!(out.line("file offset"), "1000003");
    assert_eq!(out.line("sockbox.sendfile"), "1000003");
    assert_eq!(out.line("sockbox.sendfile tail"), "5");
}

/// A connect the policy refuses is a PermissionError carrying the policy's message and rule.
fn denied_connect_is_permission_error() {
    let ctx = with_policy(policy(&[])).build().unwrap();
    let out = case(&["denied", "127.0.0.1", "9"], ctx, &[]);
    out.assert_ok();
    assert_eq!(out.line("error"), "PermissionError");
    assert_eq!(out.line("errno is EACCES"), "True");
    assert!(
        out.line("message")
            .contains("denies connect to 127.0.0.1:9"),
        "{out}"
    );
    assert_eq!(out.line("rule"), "--allow-connect 127.0.0.1:9");
}

/// A recv timeout is TimeoutError("timed out"), after the timeout and not much later.
fn timeout_is_timeout_error() {
    let peer = silent_server("127.0.0.1:0");
    let out = case_on(peer.port(), "timeout", &[], &[]);
    out.assert_ok();
    assert_eq!(out.line("error"), "TimeoutError timed out");
    let waited: u64 = out.line("waited ms").parse().unwrap();
    assert!((290..2000).contains(&waited), "{out}");
    assert_eq!(out.line("is socket.timeout"), "True");
}

/// The embedder's interrupt wakes a Python guest blocked in recv: OSError(ECANCELED).
fn interrupt_wakes_a_blocked_python_guest() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ctx = allowing_connect(port).build().unwrap();
    let handle = ctx.interrupt_handle();
    // Once the guest has connected, give it time to block in recv, then interrupt it.
    let waker = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        handle.interrupt();
        conn
    });
    let out = case(&["blocked", &port.to_string()], ctx, &[]);
    drop(waker.join().unwrap());
    out.assert_ok();
    assert_eq!(
        out.line("error"),
        "OSError True Operation canceled (the host interrupted this instance)"
    );
}

/// A refused connect is ConnectionRefusedError; connect_ex returns ECONNREFUSED.
fn refused_connect_is_connection_refused_error() {
    let (_held, port) = closed_port();
    let out = case_on(port, "refused", &[], &[]);
    out.assert_ok();
    assert_eq!(out.line("error"), "ConnectionRefusedError");
    assert_eq!(out.line("connect_ex is ECONNREFUSED"), "True");
}

/// UDP sendto/recvfrom with a native echo peer.
fn udp_round_trip() {
    let peer = udp_echo("127.0.0.1:0");
    let out = case_on(peer.port(), "udp", &[], &[]);
    out.assert_ok();
    assert_eq!(out.line("echo"), "ping True");
}

/// The rest of the module inside the guest: socketpair, select, selectors, options, timeouts,
/// dup/fromfd/detach, inet helpers, getaddrinfo, errors, and no descriptor left behind.
fn the_socket_module_surface() {
    let ctx = with_policy(policy(&[])).build().unwrap();
    let out = case(&["surface"], ctx, &[]);
    out.assert_ok();
    let want = SURFACE;
    assert_eq!(out.stdout, want, "{out}");
}

/// What the `surface` case prints.
const SURFACE: &str = "\
pair: AF_UNIX SOCK_STREAM True
inheritable: False True
select: True True []
select idle: ([], [], [])
selectors: PollSelector [('b', 1)]
nodelay: 1
keepalive: 1
type: True
bindtodevice: PermissionError
timeout default: None True
timeout set: 1.5 True
nonblocking: 0.0 False
negative timeout: Timeout value out of range
closed fileno: -1 repr closed: True
use after close: True
dup: True True
dup read: b'via dup'
detach read: b'via detach'
SOCK_NONBLOCK: SOCK_STREAM False
aton: 7f000001 127.0.0.1
pton: fe80::1
htons: 256 True
getaddrinfo: AF_INET6 SOCK_STREAM ('::1', 80, 0, 0)
getnameinfo: ('127.0.0.1', '80')
servbyname: 80
gaierror: True
lookup denied: PermissionError
bad address: OverflowError
bad address: TypeError
bad address: TypeError
bad type: OSError True
fds left: 0
";

/// The example plugin `examples/python/fetch.py` fetches a page by name with urllib.request,
/// allowed by one name rule.
fn example_fetch_by_name() {
    let (port, server) = http_server("fetched by urllib\n");
    let ctx = with_policy(policy(&[&format!("connect localhost:{port}")]))
        .build()
        .unwrap();
    let component = python_component("examples/python", "fetch");
    let url = format!("http://localhost:{port}/page");
    let out = run_component(&component, "fetch", &[&url], ctx, &[]);
    out.assert_ok();
    let head = server.join().unwrap();
    assert!(head.starts_with("GET /page HTTP/1.1\r\n"), "{head}");
    assert_eq!(out.stdout, "200 OK\nfetched by urllib\n", "{out}");
}

/// The example plugin `examples/python/plain_socket.py` uses CPython's own WASI `_socket` (no
/// `import sockbox`): its wasi:sockets calls are served by sockbox, under the policy.
fn plain_cpython_socket_under_the_policy() {
    let peer = sockbox_tests::echo_server("127.0.0.1:0");
    let port = peer.port().to_string();
    let component = python_component("examples/python", "plain_socket");
    let allowed = with_policy(policy(&[&format!("connect localhost:{port}")]))
        .build()
        .unwrap();
    let out = run_component(
        &component,
        "plain_socket",
        &["localhost", &port],
        allowed,
        &[],
    );
    out.assert_ok();
    assert_eq!(out.line("got"), "hello from CPython's own _socket", "{out}");
    assert_eq!(out.line("peer"), "True", "{out}");
    let denied = with_policy(policy(&[])).build().unwrap();
    let out = run_component(
        &component,
        "plain_socket",
        &["127.0.0.1", &port],
        denied,
        &[],
    );
    assert_eq!(out.line("error"), "PermissionError EACCES", "{out}");
}

/// An uncaught exception ends a Python plugin with status 1 and its traceback, not a trap.
fn uncaught_exception_exits_1() {
    let ctx = with_policy(policy(&[])).build().unwrap();
    let out = case(&["denied_unhandled"], ctx, &[]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stderr.contains("PermissionError"), "{out}");
}

/// On the async host (`add_to_linker_async`) the same module behaves the same: the surface
/// case prints the same lines, and a socketserver plugin and the surface case run side by
/// side on one thread, each suspended while it waits.
#[tokio::test(flavor = "current_thread")]
async fn python_on_the_async_host() {
    let runner = AsyncRunner::new().unwrap();
    let wasm = std::fs::read(sockbox_tests::python::build("tests/python", "cases")).unwrap();
    let component = runner.compile(&wasm).unwrap();
    let run = |args: &[&str], ctx: SocketCtx| {
        let (wasi, captured) = captured_wasi("cases", args, &[]);
        let fut = runner.run(&component, wasi, ctx);
        async move { captured.outcome(fut.await.expect("guest trapped")) }
    };
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let server_ctx = with_policy(policy(&[]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let clients = std::thread::spawn(move || {
        for i in 0..3 {
            let mut c = TcpStream::connect(local).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut reader = BufReader::new(c.try_clone().unwrap());
            writeln!(c, "async {i}").unwrap();
            let mut back = String::new();
            reader.read_line(&mut back).unwrap();
            assert_eq!(back, format!("ASYNC {i}\n"));
            writeln!(c, "bye").unwrap();
        }
    });
    let surface_ctx = with_policy(policy(&[])).build().unwrap();
    let (served, surface) = tokio::join!(
        run(&["serve", "3"], server_ctx),
        run(&["surface"], surface_ctx)
    );
    let clients = clients.join();
    served.assert_ok();
    clients.unwrap();
    assert_eq!(served.line("served"), format!("3 on {local}"));
    surface.assert_ok();
    assert_eq!(surface.stdout, SURFACE, "{surface}");
}

/// Large `recv`/`recv_into` calls that wait and then get fewer bytes than they asked for, and
/// calls that find a backlog, read every byte in order: the direct receive into the guest's
/// memory must suit componentize-py's allocator (which cannot resize an allocation).
fn large_reads_that_wait_get_what_arrived() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Trickles (a reader waits, then finds less than it asked for) and bursts (a backlog).
    let chunks: Vec<usize> = (0..60)
        .map(|i| [20_000, 70_000, 1_000, 300_000][i % 4])
        .collect();
    let total: usize = chunks.iter().sum();
    let sender = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut checksum = 0u32;
        for (i, len) in chunks.into_iter().enumerate() {
            let chunk: Vec<u8> = (0..len).map(|j| ((i * 31 + j) % 251) as u8).collect();
            checksum = chunk
                .iter()
                .fold(checksum, |acc, &b| acc.wrapping_add(u32::from(b)));
            conn.write_all(&chunk).unwrap();
            if i % 3 == 0 {
                std::thread::sleep(Duration::from_millis(15));
            }
        }
        checksum
    });
    let out = case_on(port, "bulk", &[&total.to_string()], &[]);
    let checksum = sender.join().unwrap();
    out.assert_ok();
    assert_eq!(out.line("received"), format!("{total} {checksum}"), "{out}");
}

/// Where a guest's Python deliberately or knowingly differs from native CPython in the
/// differential cases, and why. Every other observation must be the same.
const EXPECTED_DIFFERENCES: &[(&str, &str)] = &[(
    "getaddrinfo/nul-host",
    "a NUL inside a host name is ValueError (as CPython gives for other text arguments); \
     CPython's C call silently looks up the part before it (here: localhost)",
)];

/// `tests/python/differential.py` run by the machine's native CPython (`python3`) and in a
/// guest (componentize-py's CPython): every line the same but the listed differences, and
/// nothing the cases throw at `_socket` (out-of-range numbers, lone surrogates, descriptors
/// closed through another object, read-only buffers) traps the plugin.
fn python_matches_native_cpython() {
    let script = sockbox_tests::python::workspace_root().join("tests/python/differential.py");
    let native = std::process::Command::new("python3")
        .arg(&script)
        .output()
        .expect("python3");
    assert!(native.status.success(), "native: {native:?}");
    let native = String::from_utf8(native.stdout).unwrap();
    let component = sockbox_tests::python_component("tests/python", "differential");
    let ctx = with_policy(policy(&[
        "bind 127.0.0.1:0",
        "bind [::1]:0",
        "connect 127.0.0.1:*",
        "lookup localhost",
        "fd-passing",
    ]))
    .build()
    .unwrap();
    let out = run_component(&component, "differential", &[], ctx, &[]);
    out.assert_ok();
    let guest: Vec<&str> = out.stdout.lines().collect();
    let native: Vec<&str> = native.lines().collect();
    assert_eq!(guest.last(), Some(&"survived: yes"), "{out}");
    assert_eq!(
        guest.len(),
        native.len(),
        "{out}\nnative:\n{}",
        native.join("\n")
    );
    let mut unexpected = Vec::new();
    let mut same = 0;
    for (g, n) in guest.iter().zip(&native) {
        let label = n.split(": ").next().unwrap_or(n);
        if g == n {
            same += 1;
        } else if !EXPECTED_DIFFERENCES.iter().any(|(l, _)| *l == label) {
            unexpected.push(format!("native  {n}\nguest   {g}"));
        }
    }
    println!("{same} of {} cases identical to native", native.len());
    assert!(
        unexpected.is_empty(),
        "unexpected differences:\n{}",
        unexpected.join("\n")
    );
}

/// A plugin whose imports make socket calls (as urllib3 does): componentize-py builds it
/// (those calls fail with ENETDOWN, as with no network, instead of ending the build), a default
/// timeout set then holds when it runs, and sockets work once it runs.
fn sockets_at_import_time_build_and_fail_cleanly() {
    let component = sockbox_tests::python_component("tests/python", "buildtime");
    let ctx = with_policy(policy(&["bind [::1]:0"])).build().unwrap();
    let out = run_component(&component, "buildtime", &[], ctx, &[]);
    out.assert_ok();
    assert_eq!(out.line("at-build"), "OSError True", "{out}");
    assert_eq!(out.line("lookup-at-build"), "OSError", "{out}");
    assert_eq!(out.line("default-at-build"), "2.5", "{out}");
    assert_eq!(out.line("default-at-run"), "2.5", "{out}");
    assert_eq!(out.line("at-run"), "ok", "{out}");
}

/// `tests/python/fuzz.py`: thousands of calls of every `_socket` function and method with
/// random awkward arguments (huge and negative numbers, odd floats, lone surrogates, NULs,
/// wrong types, closed and aliased descriptors), under a policy that allows nothing. Only
/// Python exceptions come out (the plugin survives every seed), and only the kinds CPython's C
/// module raises (no AttributeError, KeyError, IndexError from inside `_socket`).
fn random_arguments_raise_python_exceptions_only() {
    let component = sockbox_tests::python_component("tests/python", "fuzz");
    for seed in ["1", "2", "3"] {
        let ctx = with_policy(policy(&[])).build().unwrap();
        let out = run_component(&component, "fuzz", &[seed, "3000"], ctx, &[]);
        out.assert_ok();
        println!("seed {seed}: {}", out.line("exceptions"));
        // Exceptions CPython's C module never raises (AttributeError, KeyError, ...).
        let odd: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("odd: "))
            .collect();
        assert!(odd.is_empty(), "seed {seed}:\n{}", odd.join("\n"));
        assert_eq!(out.line("survived"), "yes", "seed {seed}: {out}");
    }
}

/// The example plugin `examples/python/MODULE.py` built with the packages its
/// `MODULE.requirements.txt` pins.
fn example_with_requirements(module: &str) -> wasmtime::component::Component {
    let packages = sockbox_tests::python::example_requirements(module);
    sockbox_tests::python_component_with("examples/python", module, &packages)
}

/// redis-py (8.1.0, pure Python, from PyPI) against a real redis-server on loopback: commands,
/// a 2 MiB value whose reply arrives over many reads, a pipeline, an error reply; then over its
/// Unix socket.
fn redis_py_talks_to_a_real_redis_server() {
    let state = tempfile::tempdir().unwrap();
    let unix = state.path().join("redis.sock");
    let Some(server) = sockbox_tests::LocalServer::redis(&unix) else {
        return;
    };
    let component = example_with_requirements("redis_client");
    let rules = [
        format!("connect 127.0.0.1:{}", server.port),
        format!("unix {}", unix.display()),
    ];
    let out = run_component(
        &component,
        "redis_client",
        &[&server.port.to_string(), &unix.display().to_string()],
        sockbox_tests::with_rules(&rules).build().unwrap(),
        &[],
    );
    out.assert_ok();
    assert_eq!(out.line("unix"), "works [0, 1, 2]", "{out}");
    for (label, want) in [
        ("ping", "True"),
        ("get", "works"),
        ("big", "True"),
        ("pipeline", "100"),
        ("list", "10 [0, 1, 2]"),
        ("missing", "None"),
        ("error", "ResponseError"),
    ] {
        assert_eq!(out.line(label), want, "{label}: {out}");
    }
}

/// pg8000 (pure Python, from PyPI) against a real PostgreSQL on loopback, over TCP and over its
/// Unix socket, with no workaround in the plugin: scram-sha-256 logins (and a refused one),
/// 1,000 inserts, timestamps and dates, COPY out and in, a 200,000-row select, LISTEN/NOTIFY
/// across the two connections, an error reply. The server offers no TLS, so pg8000's default
/// (TLS if offered) goes on in plain text.
fn pg8000_talks_to_a_real_postgresql() {
    pg8000_session(false);
}

/// [`pg8000_talks_to_a_real_postgresql`] with the server offering TLS and the plugin verifying
/// its certificate (signed by a test CA, given as `cadata`) on its TCP connections: TLS started
/// inside a connection that began in plain text (PostgreSQL's SSLRequest). PostgreSQL offers no
/// TLS on its Unix socket.
fn pg8000_speaks_tls_to_postgresql() {
    pg8000_session(true);
}

/// Runs `examples/python/pg_client.py` against a fresh PostgreSQL, in a plugin and under native
/// CPython: the expected answers, and the same lines from both.
fn pg8000_session(tls: bool) {
    let state = tempfile::tempdir().unwrap();
    let password = "plugin-secret";
    let certificates = tls.then(test_certificate);
    let server_tls = (certificates.as_ref()).map(|(_, leaf, key)| (leaf.as_str(), key.as_str()));
    let Some(server) = sockbox_tests::LocalServer::postgres(state.path(), password, server_tls)
    else {
        return;
    };
    let socket = server.postgres_socket(state.path());
    let mut args = vec![
        server.port.to_string(),
        socket.display().to_string(),
        password.to_string(),
    ];
    args.extend(certificates.as_ref().map(|(ca, _, _)| ca.clone()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let component = example_with_requirements("pg_client");
    let rules = [
        format!("connect 127.0.0.1:{}", server.port),
        format!("unix {}", socket.display()),
    ];
    let ctx = sockbox_tests::with_rules(&rules).build().unwrap();
    let out = run_component(&component, "pg_client", &args, ctx, &[]);
    out.assert_ok();
    let version = if tls { "TLSv1.3" } else { "None" };
    for (label, want) in [
        ("tls", version),
        ("auth", "scram-sha-256"),
        ("inserted", "[1000, 499500]"),
        ("copy in", "500"),
        (
            "select",
            "200000 20000100000 03e6c61603f6c550ab49ab6a2d83f793",
        ),
        ("notify", "[('sockbox', 'hello from a plugin')]"),
        ("unix", "True"),
        ("error", "42P01"),
        ("bad password", "28P01"),
    ] {
        assert_eq!(out.line(label), want, "{label}: {out}");
    }
    let native = std::process::Command::new("python3")
        .arg(sockbox_tests::python::workspace_root().join("examples/python/pg_client.py"))
        .args(&args)
        .env(
            "PYTHONPATH",
            sockbox_tests::python::site_dir(&sockbox_tests::python::example_requirements(
                "pg_client",
            )),
        )
        .output()
        .expect("python3");
    assert!(native.status.success(), "native: {native:?}");
    assert_eq!(out.stdout, String::from_utf8_lossy(&native.stdout));
}

/// A test CA and a server certificate it signed for `localhost` and `127.0.0.1`, as PEM: (CA,
/// certificate, key).
fn test_certificate() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Not rcgen's default name, which the leaf has too (OpenSSL would call it self-signed).
    ca.distinguished_name
        .push(DnType::CommonName, "sockbox test CA");
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    (ca.pem(), leaf.pem(), key.serialize_pem())
}

/// paho-mqtt (2.1.0, pure Python, from PyPI) against a real mosquitto broker on loopback:
/// subscribe, publish at QoS 0 and 1 (a 256 KiB payload), the messages back. paho makes its
/// wake-up socket pair over TCP on loopback: the policy allows that with `connect self` and an
/// ephemeral loopback bind, not by opening every loopback port.
fn paho_mqtt_talks_to_a_real_broker() {
    let Some(server) = sockbox_tests::LocalServer::mosquitto() else {
        return;
    };
    let component = example_with_requirements("mqtt_client");
    let rules = [
        format!("connect 127.0.0.1:{}", server.port),
        "connect self".to_string(),
        "bind 127.0.0.1:0".to_string(),
    ];
    let out = run_component(
        &component,
        "mqtt_client",
        &[&server.port.to_string()],
        sockbox_tests::with_rules(&rules).build().unwrap(),
        &[],
    );
    out.assert_ok();
    for (label, want) in [
        ("subscribed", "1"),
        ("topics", "['sockbox/big', 'sockbox/hello']"),
        ("hello", "b'hello from a plugin'"),
        ("big", "True"),
        ("published", "True"),
    ] {
        assert_eq!(out.line(label), want, "{label}: {out}");
    }
}

/// http.client, urllib.request and requests (pure Python, from PyPI) against a real nginx:
/// keep-alive across requests, gzip with chunked transfer coding, HEAD, Range, a 100 KB POST,
/// and requests streaming 3 MB over a kept-alive session.
fn http_clients_talk_to_a_real_nginx() {
    use sha2::{Digest, Sha256};
    let digest = |data: &[u8]| {
        Sha256::digest(data)
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let (www, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let text = "sockbox speaks HTTP to nginx\n".repeat(7000);
    std::fs::write(www.path().join("big.bin"), &big).unwrap();
    std::fs::write(www.path().join("hello.txt"), "hello from nginx\n").unwrap();
    std::fs::write(www.path().join("text.txt"), &text).unwrap();
    let Some(server) = sockbox_tests::LocalServer::nginx(www.path(), state.path()) else {
        return;
    };
    let component = example_with_requirements("http_clients");
    let out = run_component(
        &component,
        "http_clients",
        &[&server.port.to_string()],
        allowing_connect(server.port).build().unwrap(),
        &[],
    );
    out.assert_ok();
    let big_digest = digest(&big);
    for (label, want) in [
        ("big", format!("200 {big_digest}")),
        ("hello", "200 hello from nginx".to_string()),
        ("keep-alive", "True".to_string()),
        ("gzip", format!("gzip chunked {}", digest(text.as_bytes()))),
        ("head", "200 3000000 0".to_string()),
        (
            "range",
            format!("206 bytes 1000-1999/3000000 {}", digest(&big[1000..2000])),
        ),
        ("post", "200 posted".to_string()),
        ("still-alive", "True".to_string()),
        ("urllib", "200 hello from nginx".to_string()),
        ("requests", format!("200 {big_digest} hello from nginx")),
    ] {
        assert_eq!(out.line(label), want, "{label}: {out}");
    }
}

/// A plugin that imports requests builds (urllib3 opens a socket at import time, during
/// componentize-py's build) and GETs from a native HTTP server.
fn requests_builds_and_gets() {
    let component = sockbox_tests::python_component_with(
        "tests/python",
        "requests_client",
        &sockbox_tests::python::example_requirements("http_clients"),
    );
    let (port, server) = http_server("hello from native");
    let out = run_component(
        &component,
        "requests_client",
        &[&port.to_string()],
        allowing_connect(port).build().unwrap(),
        &[],
    );
    let head = server.join().unwrap();
    out.assert_ok();
    assert_eq!(out.line("status"), "200", "{out}");
    assert_eq!(out.line("body"), "hello from native", "{out}");
    assert!(head.contains("X-Guest: requests"), "{head}");
}

sockbox_tests::both_hosts!(
    requests_builds_and_gets,
    redis_py_talks_to_a_real_redis_server,
    pg8000_talks_to_a_real_postgresql,
    pg8000_speaks_tls_to_postgresql,
    paho_mqtt_talks_to_a_real_broker,
    http_clients_talk_to_a_real_nginx,
    random_arguments_raise_python_exceptions_only,
    sockets_at_import_time_build_and_fail_cleanly,
    python_matches_native_cpython,
    large_reads_that_wait_get_what_arrived,
    http_client_gets_from_a_native_server,
    socketserver_serves_native_clients,
    asyncio_serves_clients_concurrently,
    makefile_line_protocol,
    fd_passing_with_a_native_peer,
    sendfile_sends_a_file,
    denied_connect_is_permission_error,
    timeout_is_timeout_error,
    interrupt_wakes_a_blocked_python_guest,
    refused_connect_is_connection_refused_error,
    udp_round_trip,
    the_socket_module_surface,
    example_fetch_by_name,
    plain_cpython_socket_under_the_policy,
    uncaught_exception_exits_1,
);
