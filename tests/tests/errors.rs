//! Errors a guest sees: refused connections, policy denials, bad input. Never a trap.

use sockbox_tests::{allowing_connect, case, closed_port, echo_server, policy, with_policy};

/// Connecting to a closed port gives ConnectionRefusedError; connect_ex gives ECONNREFUSED.
fn connect_to_closed_port_is_refused() {
    let (_reserved, port) = closed_port();
    let port = port.to_string();
    let out = case(&["refused", &port], allowing_connect(port.parse().unwrap()));
    out.assert_ok();
    assert!(
        out.line("connect")
            .starts_with("err ConnectionRefusedError ConnRefused: [Errno"),
        "{out}"
    );
    assert!(out.line("connect").ends_with("Connection refused"), "{out}");
    assert!(
        out.line("connect_ex").ends_with("is-econnrefused: true"),
        "{out}"
    );
}

/// Connect without a rule is denied with the rule that would allow it; with the rule it works.
fn connect_denied_without_rule_allowed_with_it() {
    let server = echo_server("127.0.0.1:0");
    let port = server.port().to_string();
    let out = case(&["connect", "127.0.0.1", &port], with_policy(policy(&[])));
    out.assert_ok();
    assert_eq!(out.line("denied-target"), format!("127.0.0.1:{port}"));
    assert_eq!(
        out.line("denied-rule"),
        format!("--allow-connect 127.0.0.1:{port}")
    );
    assert!(
        out.line("connect")
            .starts_with("err PermissionError Access: "),
        "{out}"
    );

    // A rule for another port or address does not help.
    let near_misses = policy(&[
        "connect 127.0.0.2",
        &format!("connect 127.0.0.1:{}", server.port() + 1),
    ]);
    let out = case(&["connect", "127.0.0.1", &port], with_policy(near_misses));
    assert!(
        out.line("connect").starts_with("err PermissionError"),
        "{out}"
    );

    for rule in [
        format!("connect 127.0.0.1:{port}"),
        "connect 127.0.0.0/8".to_string(),
        format!("connect *:{port}"),
        format!(
            "connect 127.0.0.1:{}-{}",
            server.port() - 1,
            server.port() + 1
        ),
    ] {
        let out = case(
            &["connect", "127.0.0.1", &port],
            with_policy(policy(&[&rule])),
        );
        assert_eq!(out.line("connect"), "ok", "{rule}: {out}");
    }
}

/// IPv6: the rule is written with brackets, and the denial says so.
fn connect_ipv6_rules() {
    let server = echo_server("[::1]:0");
    let port = server.port().to_string();
    let out = case(&["connect", "::1", &port], with_policy(policy(&[])));
    assert_eq!(
        out.line("denied-rule"),
        format!("--allow-connect [::1]:{port}")
    );
    let out = case(
        &["connect", "::1", &port],
        with_policy(policy(&[&format!("connect [::1]:{port}")])),
    );
    assert_eq!(out.line("connect"), "ok", "{out}");
}

/// Lookups: a name needs a lookup rule; with one, the host's resolver answers.
fn getaddrinfo_follows_lookup_rules() {
    let out = case(&["lookup", "localhost"], with_policy(policy(&[])));
    assert_eq!(out.line("denied-rule"), "--allow-lookup localhost");
    let out = case(
        &["lookup", "localhost"],
        with_policy(policy(&["lookup localhost"])),
    );
    assert_eq!(out.line("getaddrinfo"), "ok", "{out}");
    assert!(out.stdout.contains("answer: "), "{out}");
    // Numeric hosts need no DNS and no rule.
    let out = case(&["lookup", "127.0.0.1"], with_policy(policy(&[])));
    assert_eq!(out.line("answer"), "AF_INET 127.0.0.1:80", "{out}");
    // A name the resolver does not know is a gaierror, not a trap.
    let out = case(
        &["lookup", "no-such-host.invalid"],
        with_policy(policy(&["lookup *.invalid"])),
    );
    assert!(out.line("getaddrinfo").starts_with("err gaierror"), "{out}");
}

/// Bad input: each gets a typed error; the guest keeps running.
fn bad_input_gets_typed_errors() {
    let out = case(
        &["bad-input"],
        with_policy(policy(&["connect *", "bind *"]))
            .max_read(sockbox_host::Limits::MAX_READ_CEILING),
    );
    out.assert_ok();
    let expect = [
        (
            "port-70000",
            "err ValueError : getsockaddrarg: port must be 0-65535.",
        ),
        (
            "port-negative",
            "err ValueError : getsockaddrarg: port must be 0-65535.",
        ),
        ("family-unknown", "err OSError AddressFamilyNotSupported"),
        ("family-unspec", "err OSError AddressFamilyNotSupported"),
        ("kind-unknown", "err OSError SocketTypeNotSupported"),
        ("raw", "err PermissionError Permission"),
        ("unix", "ok"),
        ("proto-bad", "err OSError ProtocolNotSupported"),
        ("v6-addr-on-v4", "err OSError AddressFamilyNotSupported"),
        (
            "v6-literal-on-v4",
            "err gaierror : Address family for hostname not supported",
        ),
        ("set-so-type", "err OSError NoProtocolOption"),
        ("recv-unconnected", "err OSError NotConn"),
        ("getpeername-unconnected", "err OSError NotConn"),
        ("recv-huge-nonblocking", "err BlockingIOError Again"),
        ("recv-huge-peek", "err BlockingIOError Again"),
        ("recv-huge-trunc", "err BlockingIOError Again"),
        ("lookup-nul", "err ValueError : embedded null character"),
        ("lookup-nothing", "err gaierror : Name or service not known"),
        ("close-twice", "ok"),
        (
            "recv-closed",
            "err OSError BadDescriptor: [Errno 8] Bad file descriptor",
        ),
        ("send-closed", "err OSError BadDescriptor"),
        ("bind-closed", "err OSError BadDescriptor"),
        ("alive", "yes"),
    ];
    for (label, prefix) in expect {
        assert!(
            out.line(label).starts_with(prefix),
            "{label}: expected {prefix:?}, got {:?}",
            out.line(label)
        );
    }
}

/// The typed options round-trip through the host.
fn typed_options_round_trip() {
    let out = case(&["options"], with_policy(policy(&[])));
    out.assert_ok();
    assert_eq!(
        out.stdout.lines().next().unwrap(),
        "reuse=true keepalive=true nodelay=true v6only=true"
    );
    assert_eq!(out.line("rcvbuf>=65536"), "true");
    assert_eq!(out.line("sndbuf>=65536"), "true");
    assert!(out.stdout.contains("nodelay=false v6only=false"), "{out}");
    assert!(out.stdout.contains("type=SOCK_STREAM error=None"), "{out}");
}

/// listen() without bind() would bind 0.0.0.0 on an ephemeral port: denied without a rule.
/// bind to the any-address, port 0 (create_connection's `source_address=("", 0)`) needs no
/// rule and connects, but listen() on such a socket needs the same rule.
fn listen_without_bind_needs_a_bind_rule() {
    let native = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = native.local_addr().unwrap().port().to_string();
    let out = case(
        &["listen-unbound", &port],
        with_policy(policy(&[&format!("connect 127.0.0.1:{port}")])),
    );
    out.assert_ok();
    assert_eq!(out.line("denied-rule"), "--allow-bind 0.0.0.0:0");
    assert_eq!(out.line("bind-any-0"), "ok", "{out}");
    assert_eq!(out.line("bind-any6-0"), "ok", "{out}");
    assert_eq!(out.line("bind-any-0-connect"), "ok", "{out}");
    for denied in [
        "bind-any-0-listen",
        "bind-any6-0-listen",
        "bind-any-fixed-port",
    ] {
        assert!(
            out.line(denied).starts_with("err PermissionError"),
            "{denied}: {out}"
        );
    }
    assert!(
        out.line("bind-any6-0-listen")
            .ends_with("allow it with --allow-bind [::]:0"),
        "{out}"
    );
    let out = case(
        &["listen-unbound"],
        with_policy(policy(&["bind 0.0.0.0:0"])),
    );
    assert_eq!(out.line("listen"), "ok", "{out}");
    assert_eq!(out.line("bind-any-0-listen"), "ok", "{out}");
}

/// Past the instance's socket limit, socket() fails with EMFILE; dropping one frees a slot.
fn socket_limit_gives_emfile() {
    let out = case(&["limit"], with_policy(policy(&[])).max_sockets(5));
    out.assert_ok();
    assert_eq!(out.line("created"), "5");
    assert!(
        out.line("next").starts_with("err OSError TooManyOpen: "),
        "{out}"
    );
    assert_eq!(out.line("after-drop"), "ok", "{out}");
}

sockbox_tests::both_hosts!(
    connect_to_closed_port_is_refused,
    connect_denied_without_rule_allowed_with_it,
    connect_ipv6_rules,
    getaddrinfo_follows_lookup_rules,
    bad_input_gets_typed_errors,
    typed_options_round_trip,
    listen_without_bind_needs_a_bind_rule,
    socket_limit_gives_emfile,
);
