//! TCP between a wasm guest in the real host and native peers, over 127.0.0.1 and ::1.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use sockbox_tests::{allowing_connect, case, echo_server, policy, preopen_listener, with_policy};

/// Guest client → native echo server, by address, on `host`.
fn guest_client(host: &str, bind: &str) {
    let server = echo_server(bind);
    let rule = format!("connect {}", display(server));
    let out = case(
        &["client", host, &server.port().to_string()],
        with_policy(policy(&[&rule])),
    );
    out.assert_ok();
    assert_eq!(out.line("peer"), display(server));
    let echoes: Vec<_> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("echo: "))
        .collect();
    assert_eq!(
        echoes,
        ["echo: hello from the guest", "echo: via Write"],
        "{out}"
    );
    assert!(out.line("repr").starts_with("<socket fd="), "{out}");
    assert!(
        out.line("repr")
            .contains(&format!("raddr={}", display(server))),
        "{out}"
    );
}

fn display(a: std::net::SocketAddr) -> String {
    match a {
        std::net::SocketAddr::V4(a) => a.to_string(),
        std::net::SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

fn guest_client_to_native_server_ipv4() {
    guest_client("127.0.0.1", "127.0.0.1:0");
}

fn guest_client_to_native_server_ipv6() {
    guest_client("::1", "[::1]:0");
}

/// A host name in connect() resolves through the host's getaddrinfo under the lookup rule.
fn guest_client_connects_by_name() {
    let server = echo_server("127.0.0.1:0");
    let port = server.port().to_string();
    let allowed = policy(&["lookup localhost", &format!("connect 127.0.0.1:{port}")]);
    case(&["client", "localhost", &port], with_policy(allowed)).assert_ok();

    // Without the lookup rule the name is refused before any DNS.
    let out = case(
        &["connect", "localhost", &port],
        allowing_connect(port.parse().unwrap()),
    );
    out.assert_ok();
    assert_eq!(out.line("denied-rule"), "--allow-lookup localhost");
}

/// Native client → guest server on a listener the host preopened.
fn native_client_to_preopen(addr: &str) {
    let (listener, local) = preopen_listener(addr);
    let client = std::thread::spawn(move || {
        let mut c = TcpStream::connect(local).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"shout this").unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        (reply, c.local_addr().unwrap())
    });
    let ctx = with_policy(policy(&[])).preopen(local.to_string(), listener);
    let out = case(&["server-preopen"], ctx);
    out.assert_ok();
    let (reply, client_addr) = client.join().unwrap();
    assert_eq!(reply, "SHOUT THIS");
    assert_eq!(out.line("preopen"), local.to_string());
    assert_eq!(out.line("accepted"), display(client_addr));
}

fn native_client_to_guest_server_on_preopen_ipv4() {
    native_client_to_preopen("127.0.0.1:0");
}

fn native_client_to_guest_server_on_preopen_ipv6() {
    native_client_to_preopen("[::1]:0");
}

/// Native client → guest server on a socket the guest bound itself (under a bind rule).
fn native_client_to_guest_bound(host: &str, control_bind: &str, bind_rule: &str) {
    let control = TcpListener::bind(control_bind).unwrap();
    let control_port = control.local_addr().unwrap().port();
    let client = std::thread::spawn(move || {
        let (mut ctl, _) = control.accept().unwrap();
        let mut port = String::new();
        ctl.read_to_string(&mut port).unwrap();
        let addr = (ctl.peer_addr().unwrap().ip(), port.parse::<u16>().unwrap());
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(b"bound by the guest").unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        reply
    });
    let connect_rule = if host.contains(':') {
        format!("connect [{host}]:{control_port}")
    } else {
        format!("connect {host}:{control_port}")
    };
    let p = policy(&[&format!("bind {bind_rule}"), &connect_rule]);
    let out = case(
        &["server-bind", host, &control_port.to_string()],
        with_policy(p),
    );
    out.assert_ok();
    assert_eq!(client.join().unwrap(), "BOUND BY THE GUEST");
}

fn native_client_to_guest_bound_server_ipv4() {
    native_client_to_guest_bound("127.0.0.1", "127.0.0.1:0", "127.0.0.1:0");
}

fn native_client_to_guest_bound_server_ipv6() {
    native_client_to_guest_bound("::1", "[::1]:0", "[::1]:0");
}

/// Without a bind rule, bind is denied and names the rule.
fn bind_without_rule_is_denied() {
    let control = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = control.local_addr().unwrap().port().to_string();
    let out = case(
        &["server-bind", "127.0.0.1", &port],
        with_policy(policy(&[])),
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("--allow-bind 127.0.0.1:0"),
        "the error names the rule:\n{out}"
    );
}

/// Large reads, which the host receives straight into guest memory, against a native sender
/// whose writes vary in size and sometimes pause (so some reads find data queued and some
/// wait): every byte arrives in order, no read exceeds its size, and the end of the stream
/// reads as empty, blocking or not.
fn large_reads_deliver_every_byte() {
    const TOTAL: u64 = 24 * 1024 * 1024 + 12_345;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sender = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let sizes = [1usize, 100, 70_000, 300_000, 16_384, 65_536, 5, 1_000_000];
        let (mut sent, mut k) = (0u64, 0usize);
        while sent < TOTAL {
            let n = (sizes[k % sizes.len()] as u64).min(TOTAL - sent);
            let chunk: Vec<u8> = (sent..sent + n)
                .map(|i| (i.wrapping_mul(7) ^ (i >> 11)) as u8)
                .collect();
            conn.write_all(&chunk).unwrap();
            sent += n;
            k += 1;
            if k % 5 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    });
    let out = case(&["bulk-recv", &port.to_string()], allowing_connect(port));
    sender.join().unwrap();
    out.assert_ok();
    assert_eq!(out.line("bytes"), TOTAL.to_string(), "{out}");
    assert_eq!(out.line("mismatch"), "None", "{out}");
    let largest: usize = out.line("largest-read").parse().unwrap();
    assert!(largest > 20_000, "reads were never large: {out}");
    assert_eq!(out.line("after-end"), "[]");
    assert_eq!(out.line("after-end-nonblocking"), "[]");
}

/// A preopened listener is shared with the host: the guest may accept on it (and `listen`
/// succeeds, changing nothing) but not shut it down or change its options (PermissionError),
/// and the host's listener keeps working after the guest is gone.
fn preopened_listener_is_accept_only() {
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let host_copy = listener.try_clone().unwrap();
    let client = std::thread::spawn(move || {
        let mut c = TcpStream::connect(local).unwrap();
        c.write_all(b"still here").unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).unwrap();
        reply
    });
    let ctx = with_policy(policy(&[])).preopen(local.to_string(), listener);
    let out = case(&["preopen-accept-only"], ctx);
    out.assert_ok();
    for label in ["shutdown", "reuseport", "dup-shutdown"] {
        assert!(
            out.line(label)
                .starts_with("err PermissionError Permission"),
            "{label}: {out}"
        );
    }
    assert_eq!(out.line("getsockopt"), "ok", "{out}");
    assert_eq!(out.line("listen"), "ok", "{out}");
    assert_eq!(client.join().unwrap(), "STILL HERE");
    // The host's listener still takes connections.
    let _late = TcpStream::connect(local).unwrap();
    host_copy.set_nonblocking(false).unwrap();
    assert!(host_copy.accept().is_ok());
}

sockbox_tests::both_hosts!(
    preopened_listener_is_accept_only,
    guest_client_to_native_server_ipv4,
    guest_client_to_native_server_ipv6,
    guest_client_connects_by_name,
    native_client_to_guest_server_on_preopen_ipv4,
    native_client_to_guest_server_on_preopen_ipv6,
    native_client_to_guest_bound_server_ipv4,
    native_client_to_guest_bound_server_ipv6,
    bind_without_rule_is_denied,
    large_reads_deliver_every_byte,
);
