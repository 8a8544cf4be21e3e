//! The policy against native peers: DNS pinning, datagram sender filtering, accept filtering.

use std::io::Read;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use sockbox_tests::{case, echo_server, policy, preopen_listener, run_with, with_policy};

/// `--allow-connect localhost:PORT` allows what `localhost` resolved to in this instance, on
/// that port, once resolved; and the name's lookup; and nothing else.
fn name_rules_pin_resolved_addresses() {
    let echo = echo_server("127.0.0.1:0");
    let ctx = with_policy(policy(&[&format!("connect localhost:{}", echo.port())]))
        .build()
        .unwrap();
    let out = run_with("policy", &["pinning", &echo.port().to_string()], ctx);
    out.assert_ok();
    assert!(
        out.line("before-lookup")
            .starts_with("err PermissionError Access: "),
        "{out}"
    );
    assert_eq!(out.line("lookup"), "ok", "{out}");
    assert_eq!(out.line("after-lookup"), "ok", "{out}");
    assert!(
        out.line("other-port")
            .contains("sockbox policy denies connect to 127.0.0.1:"),
        "{out}"
    );
    assert_eq!(out.line("create-connection"), "ok", "{out}");
    assert!(
        out.line("other-name")
            .contains("denies lookup of example.com"),
        "{out}"
    );
}

/// An unconnected UDP socket hears only from peers the guest may send to: the host drops the
/// rest, also when the guest peeks or reads with recv_fds, and goes on waiting.
fn datagrams_from_peers_not_allowed_are_dropped() {
    let good = UdpSocket::bind("127.0.0.1:0").unwrap();
    let evil = UdpSocket::bind("127.0.0.1:0").unwrap();
    let good_port = good.local_addr().unwrap().port();
    let peers = std::thread::spawn(move || {
        good.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 64];
        let (_, guest) = good.recv_from(&mut buf).unwrap();
        evil.send_to(b"evil", guest).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        good.send_to(b"good", guest).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        evil.send_to(b"evil2", guest).unwrap();
        good.send_to(b"good2", guest).unwrap();
        evil.send_to(b"evil3", guest).unwrap();
        good.send_to(b"good3", guest).unwrap();
    });
    let ctx = with_policy(policy(&[
        &format!("connect 127.0.0.1:{good_port}"),
        "bind 127.0.0.1:0",
        "fd-passing",
    ]))
    .build()
    .unwrap();
    let out = run_with("policy", &["udp-filter", &good_port.to_string()], ctx);
    peers.join().unwrap();
    out.assert_ok();
    assert_eq!(
        out.line("first"),
        format!("good from Some(\"127.0.0.1:{good_port}\")"),
        "{out}"
    );
    assert_eq!(out.line("peek"), "good2", "{out}");
    assert_eq!(out.line("second"), "good2", "{out}");
    assert_eq!(
        out.line("fds"),
        format!("good3 from Some(\"127.0.0.1:{good_port}\")"),
        "{out}"
    );
    assert!(
        out.line("third").starts_with("err BlockingIOError Again"),
        "{out}"
    );
}

/// With an accept rule, the host closes connections from peers it does not match and accept
/// returns the next one. The listener is dual-stack: `127.0.0.1` matches the IPv4-mapped
/// peer, `::1` is refused.
fn accept_rules_close_other_peers() {
    let (listener, local) = preopen_listener("[::]:0");
    let port = local.port();
    // Both wait in the backlog before the guest starts: the refused one first.
    let mut refused = TcpStream::connect(("::1", port)).unwrap();
    let mut welcome = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let ctx = with_policy(policy(&["accept 127.0.0.1"]))
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let out = run_with("policy", &["accept-filter"], ctx);
    out.assert_ok();
    assert!(
        out.line("accepted").starts_with("[::ffff:127.0.0.1]:"),
        "{out}"
    );
    let mut got = String::new();
    welcome.read_to_string(&mut got).unwrap();
    assert_eq!(got, "welcome");
    refused
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    match refused.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the refused peer got {other:?}"),
    }
}

/// Past `max_pending_lookups` a lookup fails with EAI_AGAIN (a synchronous instance has one
/// in flight at most, so the limit 0 is the one that shows it), and `create_connection` gives
/// that lookup error.
fn lookups_past_the_limit_fail_with_eai_again() {
    let echo = echo_server("127.0.0.1:0");
    let ctx = with_policy(policy(&[&format!("connect localhost:{}", echo.port())]))
        .max_pending_lookups(0)
        .build()
        .unwrap();
    let out = run_with("policy", &["pinning", &echo.port().to_string()], ctx);
    out.assert_ok();
    assert!(
        out.line("lookup")
            .starts_with("err gaierror : Temporary failure in name resolution"),
        "{out}"
    );
    assert!(
        out.line("create-connection").starts_with("err gaierror"),
        "{out}"
    );
    // Nothing was resolved, so nothing was pinned.
    assert!(
        out.line("after-lookup")
            .starts_with("err PermissionError Access"),
        "{out}"
    );
}

/// Names are normalised once and the resolver is asked the name as checked: `LOCALHOST.`
/// under a `localhost` rule is looked up as `localhost` (in /etc/hosts), not sent to DNS as
/// an absolute name.
fn lookups_resolve_the_name_the_rule_matched() {
    let out = case(
        &["lookup", "LOCALHOST."],
        with_policy(policy(&["lookup localhost"])),
    );
    out.assert_ok();
    assert_eq!(out.line("getaddrinfo"), "ok", "{out}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("answer: ") && l.contains("127.0.0.1:80")),
        "{out}"
    );
}

/// `--allow-connect self` admits exactly the instance's own listening sockets, while they
/// listen: not a native listener on loopback, not a closed listener's port.
fn connect_self_admits_only_the_instances_own_listeners() {
    let native = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = native.local_addr().unwrap().port();
    let out = case(
        &["connect-self", &other.to_string()],
        with_policy(policy(&[
            "connect self",
            "bind 127.0.0.1:0",
            "bind 0.0.0.0:0",
        ])),
    );
    out.assert_ok();
    assert_eq!(out.line("own"), "ok", "{out}");
    assert_eq!(out.line("own-any"), "ok", "{out}");
    assert!(
        out.line("other").starts_with("err PermissionError"),
        "{out}"
    );
    assert!(
        out.line("closed").starts_with("err PermissionError"),
        "{out}"
    );
}

sockbox_tests::both_hosts!(
    connect_self_admits_only_the_instances_own_listeners,
    lookups_resolve_the_name_the_rule_matched,
    name_rules_pin_resolved_addresses,
    datagrams_from_peers_not_allowed_are_dropped,
    accept_rules_close_other_peers,
    lookups_past_the_limit_fail_with_eai_again,
);
