//! UDP round trips between a wasm guest and a native peer.

use sockbox_tests::{allowing_connect, case, policy, udp_echo, with_policy};

fn round_trip(host: &str, bind: &str, shown: &str) {
    let peer = udp_echo(bind);
    let port = peer.port().to_string();
    let rule = format!("connect {shown}:{port}");
    let out = case(&["udp", host, &port], with_policy(policy(&[&rule])));
    out.assert_ok();
    assert_eq!(out.line("sent"), "23");
    assert_eq!(out.line("got"), "datagram from the guest");
    assert_eq!(out.line("from"), format!("{shown}:{port}"));
}

fn udp_round_trip_ipv4() {
    round_trip("127.0.0.1", "127.0.0.1:0", "127.0.0.1");
}

fn udp_round_trip_ipv6() {
    round_trip("::1", "[::1]:0", "[::1]");
}

/// sendto is checked against the connect rules: without one the datagram is not sent.
fn udp_sendto_without_rule_is_denied() {
    let peer = udp_echo("127.0.0.1:0");
    let out = case(
        &["udp", "127.0.0.1", &peer.port().to_string()],
        with_policy(policy(&[])),
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr
            .contains(&format!("--allow-connect 127.0.0.1:{}", peer.port())),
        "{out}"
    );
}

/// recv with MSG_TRUNC returns only what fits in the buffer, however long the datagram.
fn udp_recv_trunc_returns_what_fits() {
    let peer = udp_echo("127.0.0.1:0");
    let port = peer.port().to_string();
    let out = case(
        &["udp-trunc", &port],
        allowing_connect(port.parse().unwrap()),
    );
    out.assert_ok();
    assert_eq!(out.line("trunc"), "4 data");
}

sockbox_tests::both_hosts!(
    udp_round_trip_ipv4,
    udp_round_trip_ipv6,
    udp_sendto_without_rule_is_denied,
    udp_recv_trunc_returns_what_fits,
);
