//! `wasi:sockets` served by sockbox: a guest that speaks wasi:sockets 0.2 directly, and Rust
//! std::net, on sockbox's two hosts and on wasmtime-wasi's implementation, with the same
//! answers; then the sockbox policy, limits and interrupt on the wasi side.

use sockbox_tests::{
    Outcome, both_hosts, closed_port, echo_server, run_on_wasmtime_sockets, run_with, with_rules,
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
    let rules: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
    run_with(
        "wasi-sockets",
        args,
        with_rules(&rules).build().expect("socket ctx"),
    )
}

/// Runs the `wasi-sockets` case on wasmtime-wasi and on sockbox (the current host) with the
/// whole loopback open, and requires the same output; returns sockbox's.
fn same_as_wasmtime(args: &[&str]) -> Outcome {
    let theirs = run_on_wasmtime_sockets("wasi-sockets", args);
    let ours = on_sockbox(args, OPEN);
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
    ]);
    assert_eq!(out.line("\"127.0.0.1\""), "[\"(127, 0, 0, 1)\"]");
    assert_eq!(out.line("\"a b\""), "err invalid-argument");
}

fn std_net() {
    let peer = echo_server("127.0.0.1:0");
    let out = same_as_wasmtime(&["std", &peer.port().to_string()]);
    assert_eq!(out.line("echo"), "\"std hello\"");
    assert_eq!(out.line("udp"), "\"dgram\" from b true");
}

both_hosts!(
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
