//! The rest of socket.py: makefile and SocketIO, the helpers, descriptors, messages, options,
//! netdb and the pure helpers, each driven from a wasm guest through the real host.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};

use sockbox_tests::{
    allowing_connect, closed_port, echo_server, policy, silent_server, surface, udp_echo,
    with_policy,
};

/// A native peer for the makefile case: echoes lines until "END\n", then sends
/// "a\r\nb\rc\n" and closes.
fn line_peer() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        let mut w = conn.try_clone().unwrap();
        let mut r = BufReader::new(conn);
        let mut line = Vec::new();
        while r.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            if line == b"END\n" {
                w.write_all(b"a\r\nb\rc\n").unwrap();
                w.shutdown(Shutdown::Write).unwrap();
                break;
            }
            w.write_all(&line).unwrap();
            line.clear();
        }
    });
    port
}

/// readline ends lines as each `newline` mode says, as io.TextIOWrapper does.
fn makefile_newline_modes() {
    let out = surface(&["newlines"], with_policy(policy(&[])));
    out.assert_ok();
    assert_eq!(out.line("universal"), r#"["x\n", "y\n", "z\n"]"#);
    assert_eq!(out.line("untranslated"), r#"["x\r", "y\r\n", "z\n"]"#);
    assert_eq!(out.line("cr"), r#"["x\r", "y\r", "\nz\n"]"#);
    assert_eq!(out.line("crlf"), r#"["x\ry\r\n", "z\n"]"#);
}

fn makefile_binary_text_and_newlines() {
    let port = line_peer();
    let out = surface(&["makefile", &port.to_string()], allowing_connect(port));
    out.assert_ok();
    let binary: Vec<_> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("binary-line"))
        .collect();
    assert_eq!(
        binary,
        [r#"binary-line: "one\n""#, r#"binary-line: "two\n""#],
        "{out}"
    );
    assert_eq!(out.line("crlf-echo"), r#""crlf\r\n""#);
    assert_eq!(out.line("text-lines"), r#"["a", "b", "c"]"#);
    assert!(
        out.line("mode-bad")
            .starts_with("err ValueError : invalid mode \"rx\"")
    );
    assert_eq!(
        out.line("text-unbuffered"),
        "err ValueError : unbuffered streams must be binary"
    );
    assert!(
        out.line("newline-bad")
            .starts_with("err ValueError : illegal newline value")
    );
    assert_eq!(out.line("unbuffered-binary"), "rb false");
}

/// close() with a makefile open keeps the OS socket open until the file is closed: the peer
/// sees end-of-stream only when the file goes, while the guest still runs.
fn makefile_keeps_socket_open_until_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (data, _) = listener.accept().unwrap();
        let mut w = data.try_clone().unwrap();
        let mut r = BufReader::new(data);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        w.write_all(line.as_bytes()).unwrap();
        let (mut ctl, _) = listener.accept().unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap(); // returns at end of stream
        ctl.write_all(b"eof-seen").unwrap();
    });
    let out = surface(&["io-refs", &port.to_string()], allowing_connect(port));
    out.assert_ok();
    assert_eq!(out.line("fileno-after-close"), "-1");
    assert_eq!(out.line("after-close"), r#""still open\n""#);
    assert_eq!(out.line("eof"), "eof-seen");
}

fn socket_io_would_block_and_timeout_rules() {
    let port = silent_server("127.0.0.1:0").port();
    let out = surface(&["socket-io", &port.to_string()], allowing_connect(port));
    out.assert_ok();
    assert_eq!(
        out.line("flags"),
        "readable=true writable=true seekable=false mode=rwb name-is-fileno=true"
    );
    assert_eq!(out.line("nonblocking-read"), "None");
    assert_eq!(out.line("timeout-read"), "err TimeoutError : timed out");
    assert_eq!(
        out.line("after-timeout"),
        "err OSError : cannot read from timed out object"
    );
    assert!(
        out.line("bad-mode")
            .starts_with("err ValueError : invalid mode")
    );
    assert_eq!(
        out.line("closed-read"),
        "err ValueError : I/O operation on closed socket."
    );
    assert_eq!(
        out.line("closed-readable"),
        "err ValueError : I/O operation on closed socket."
    );
    assert_eq!(out.line("closed"), "true");
}

fn create_connection_timeouts_and_source_address() {
    let port = echo_server("127.0.0.1:0").port();
    let p = policy(&[
        "lookup localhost",
        &format!("connect 127.0.0.1:{port}"),
        "bind 127.0.0.1:0",
    ]);
    let out = surface(
        &["create-connection", "localhost", &port.to_string()],
        with_policy(p),
    );
    out.assert_ok();
    assert_eq!(out.line("default-timeout"), "Some(7s)");
    assert_eq!(out.line("blocking"), "None");
    assert_eq!(out.line("timeout"), "Some(2s)");
    assert_eq!(out.line("peer"), format!("127.0.0.1:{port}"));
    assert_eq!(out.line("echo"), "ping");
}

/// The last error, or every attempt's error in order with all_errors; lookup failures as they
/// are. (Which error comes last follows the host resolver's order for "localhost".)
fn create_connection_errors() {
    let (_reserved, port) = closed_port();
    let resolved: Vec<_> = ("localhost", port).to_socket_addrs().unwrap().collect();
    let answers = resolved.len();
    let p = policy(&["lookup localhost", &format!("connect 127.0.0.1:{port}")]);
    let out = surface(
        &["create-connection-errors", "localhost", &port.to_string()],
        with_policy(p),
    );
    out.assert_ok();
    // The last answer's error: refused for 127.0.0.1 (allowed), denied for anything else.
    let last_allowed = resolved.last().unwrap().ip().to_string() == "127.0.0.1";
    let expected = if last_allowed {
        "err ConnectionRefusedError"
    } else {
        "err PermissionError"
    };
    assert!(out.line("last").starts_with(expected), "{out}");
    assert_eq!(out.line("group"), answers.to_string());
    let members: Vec<_> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("member: "))
        .collect();
    assert_eq!(members.len(), answers);
    // Answers the connect rule does not cover (::1, if localhost has it) are denials.
    assert!(
        members
            .iter()
            .all(|m| m.contains("ConnectionRefusedError") || m.contains("PermissionError")),
        "{out}"
    );
    // A lookup failure is raised as it is, not as a group.
    assert!(
        out.line("lookup-denied").starts_with("err PermissionError"),
        "{out}"
    );
    assert!(
        out.line("lookup-denied")
            .contains("--allow-lookup example.invalid"),
        "{out}"
    );
}

fn create_server_listens_and_checks() {
    let control = TcpListener::bind("127.0.0.1:0").unwrap();
    let cport = control.local_addr().unwrap().port();
    let clients = std::thread::spawn(move || {
        let (ctl, _) = control.accept().unwrap();
        let mut line = String::new();
        BufReader::new(ctl).read_line(&mut line).unwrap();
        let ports: Vec<u16> = line
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        TcpStream::connect(("127.0.0.1", ports[0]))
            .unwrap()
            .write_all(b"v4")
            .unwrap();
        if ports[1] != 0 {
            TcpStream::connect(("127.0.0.1", ports[1]))
                .unwrap()
                .write_all(b"dual4")
                .unwrap();
            TcpStream::connect(("::1", ports[1]))
                .unwrap()
                .write_all(b"dual6")
                .unwrap();
        }
    });
    let p = policy(&[
        &format!("connect 127.0.0.1:{cport}"),
        "bind 127.0.0.1",
        "bind [::]:0",
    ]);
    let out = surface(&["create-server", &cport.to_string()], with_policy(p));
    clients.join().unwrap();
    out.assert_ok();
    assert_eq!(out.line("reuseaddr"), "true");
    assert_eq!(out.line("v4-got"), "v4");
    if out.line("has-dualstack") == "true" {
        assert_eq!(out.line("v6only"), "false");
        let dual: Vec<_> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("dual-got"))
            .collect();
        assert!(
            dual.contains(&"dual-got: dual4 from-v4-mapped=true"),
            "{out}"
        );
        assert!(
            dual.contains(&"dual-got: dual6 from-v4-mapped=false"),
            "{out}"
        );
    }
    assert_eq!(
        out.line("dualstack-needs-inet6"),
        "err ValueError : dualstack_ipv6 requires AF_INET6 family"
    );
    assert!(
        out.line("in-use").starts_with("err OSError AddrInUse"),
        "{out}"
    );
    assert!(out.line("in-use").contains("bind(127.0.0.1:"), "{out}");
    assert!(
        out.line("no-rule").contains("--allow-bind 127.0.0.2:0"),
        "{out}"
    );
}

fn socketpair_fallback() {
    let out = surface(&["socketpair"], with_policy(policy(&[])));
    out.assert_ok();
    assert_eq!(out.line("AF_INET"), "to b to a same-pair=true");
    assert_eq!(out.line("AF_INET6"), "to b to a same-pair=true");
    assert_eq!(
        out.line("dgram"),
        "err ValueError : Only SOCK_STREAM socket type is supported"
    );
    assert_eq!(
        out.line("proto"),
        "err ValueError : Only protocol zero is supported"
    );
    assert_eq!(out.line("unix"), "ok", "AF_UNIX pairs are native");
    assert!(
        out.line("other")
            .starts_with("err ValueError : Only AF_INET and AF_INET6")
    );
}

fn dup_detach_fromfd_inheritable() {
    let out = surface(&["descriptors"], with_policy(policy(&[])));
    out.assert_ok();
    assert_eq!(out.line("dup-timeout"), "Some(3s) distinct-fileno=true");
    assert_eq!(out.line("dup-after-close"), "via dup");
    assert_eq!(out.line("inheritable"), "false");
    assert_eq!(out.line("inheritable-set"), "true");
    assert!(
        out.line("from-fd-wrong")
            .starts_with("err OSError BadDescriptor")
    );
    assert_eq!(out.line("from-fd-same"), "true");
    assert!(
        out.line("from-fd-twice")
            .starts_with("err OSError BadDescriptor")
    );
    assert_eq!(out.line("fromfd"), "via fromfd");
    assert!(
        out.line("fromfd-unknown")
            .starts_with("err OSError BadDescriptor")
    );
    assert!(
        out.line("fromfd-negative")
            .starts_with("err OSError BadDescriptor")
    );
    assert_eq!(out.line("closed-fileno"), "-1");
    assert!(
        out.line("closed-inheritable")
            .starts_with("err OSError BadDescriptor")
    );
}

fn sendmsg_recvmsg_and_flags() {
    let udp = udp_echo("127.0.0.1:0").port();
    let tcp = echo_server("127.0.0.1:0").port();
    let p = policy(&[
        &format!("connect 127.0.0.1:{udp}"),
        &format!("connect 127.0.0.1:{tcp}"),
    ]);
    let out = surface(
        &["messages", &udp.to_string(), &tcp.to_string()],
        with_policy(p),
    );
    out.assert_ok();
    assert_eq!(out.line("sendmsg"), "17");
    assert_eq!(
        out.line("recvmsg"),
        format!("gathered datagram from=127.0.0.1:{udp} trunc=false")
    );
    assert_eq!(out.line("recvmsg-short"), "0123 trunc=true");
    assert_eq!(out.line("recvfrom_into"), "into true");
    assert_eq!(out.line("peek"), "peek then peekaboo");
    assert_eq!(out.line("recv_into"), "xy");
}

fn every_typed_option_round_trips() {
    let out = surface(&["options"], with_policy(policy(&[])));
    out.assert_ok();
    let rows: Vec<_> = out
        .stdout
        .lines()
        .filter(|l| l.contains(": round-trips") || l.contains(" != "))
        .collect();
    assert_eq!(rows.len(), 19, "{out}");
    assert!(rows.iter().all(|r| r.ends_with(": round-trips")), "{out}");
    assert_eq!(out.line("linger-off"), "None");
    assert_eq!(out.line("quickack-readable"), "true");
    assert!(
        out.line("ipv6-option-on-v4").starts_with("err OSError"),
        "{out}"
    );
    assert!(
        out.line("set-so-error")
            .starts_with("err OSError NoProtocolOption"),
        "{out}"
    );
    assert!(
        out.line("linger-timeout")
            .starts_with("err OSError Invalid"),
        "{out}"
    );
}

fn multicast_join_needs_a_bind_rule() {
    let out = surface(&["multicast"], with_policy(policy(&[])));
    out.assert_ok();
    assert_eq!(out.line("join-denied"), "true");
    assert_eq!(out.line("denied-rule"), "--allow-bind 239.255.0.1");
    let out = surface(
        &["multicast"],
        with_policy(policy(&["bind 239.255.0.0/16"])),
    );
    assert_eq!(out.line("join-denied"), "false", "{out}");
}

fn netdb_functions() {
    let p = policy(&["lookup localhost", "lookup 127.0.0.0/8"]);
    let out = surface(&["netdb"], with_policy(p));
    out.assert_ok();
    assert_eq!(out.line("passive"), "0.0.0.0:80");
    assert!(
        out.line("numerichost-name").starts_with("err gaierror"),
        "{out}"
    );
    assert_eq!(out.line("canonname"), "localhost");
    assert_eq!(out.line("getnameinfo-numeric"), r#"("127.0.0.1", "80")"#);
    assert_eq!(out.line("getnameinfo"), r#"("localhost", "http")"#);
    assert_eq!(out.line("gethostname-nonempty"), "true");
    assert_eq!(out.line("gethostbyname"), "127.0.0.1");
    assert_eq!(out.line("gethostbyname_ex"), r#"localhost ["127.0.0.1"]"#);
    assert_eq!(out.line("gethostbyaddr"), r#"localhost ["127.0.0.1"]"#);
    assert!(
        out.line("gethostbyaddr-denied")
            .contains("--allow-lookup 10.9.8.7"),
        "{out}"
    );
    // Service names come from the services database (/etc/services, from netbase).
    if std::path::Path::new("/etc/services").exists() {
        assert_eq!(out.line("getservbyname"), "80");
        assert_eq!(out.line("getservbyport"), "http");
    }
    assert_eq!(out.line("getfqdn"), "localhost");
    assert_eq!(
        out.line("getservbyname-bad"),
        "err OSError : service/proto not found"
    );
    assert_eq!(
        out.line("getservbyname-proto"),
        "err OSError : service/proto not found"
    );
    assert_eq!(out.line("getprotobyname"), "6 17");
    assert_eq!(
        out.line("getprotobyname-bad"),
        "err OSError : protocol not found"
    );
    assert_eq!(out.line("if_nametoindex-lo-agrees"), "true");
    assert_eq!(out.line("if_indextoname"), "lo");
    assert!(
        out.line("if_nametoindex-bad").starts_with("err OSError"),
        "{out}"
    );
    assert!(
        out.line("if_indextoname-bad").starts_with("err OSError"),
        "{out}"
    );

    // Without the address rule, reverse lookups are refused before any query.
    let out = surface(&["netdb"], with_policy(policy(&["lookup localhost"])));
    assert!(
        out.line("getnameinfo").contains("--allow-lookup 127.0.0.1"),
        "{out}"
    );
}

fn pure_helpers_and_constants_in_wasm() {
    let out = surface(&["pure"], with_policy(policy(&[])));
    out.assert_ok();
    assert_eq!(out.line("inet_aton"), "[127, 0, 0, 1]");
    assert_eq!(out.line("inet_ntoa"), "10.0.0.1");
    assert_eq!(out.line("inet_pton6"), "16");
    assert_eq!(out.line("inet_ntop6"), "::1");
    assert!(
        out.line("inet_pton-bad")
            .contains("illegal IP address string passed to inet_pton")
    );
    assert!(out.line("inet_ntop-bad").starts_with("err ValueError"));
    assert_eq!(out.line("htons"), "0x3412 ntohl: 0x04030201");
    assert_eq!(out.line("af"), "AF_INET 12345 raw=2");
    assert_eq!(out.line("kind"), "SOCK_DGRAM");
    assert!(
        out.line("msgflags-unknown")
            .starts_with("err ValueError : unknown MSG_* bits")
    );
    assert_eq!(out.line("msgflags"), "true");
    assert_eq!(out.line("errno-message"), "Connection refused");
}

/// socket.py's extras in the Rust crate: default arguments, recvmsg_into, ancillary data on
/// sendmsg/recvmsg (MSG_CTRUNC without room), CMSG_LEN/CMSG_SPACE, module-level dup and
/// close, fromfd starting at the default timeout, makefile's encoding, the constants.
fn socket_py_extras_in_the_rust_crate() {
    let out = surface(
        &["socket-py-extras"],
        with_policy(policy(&["fd-passing", "bind 127.0.0.1:0"])),
    );
    out.assert_ok();
    for (label, want) in [
        ("pair", "AddressFamily::Unix SocketKind::Stream"),
        ("listen-default", "ok"),
        ("listening", "Sockopt::SoAcceptconn(true)"),
        ("recvmsg-into", r#"11 "hello" " world""#),
        ("ancillary", r#""with fd" 1"#),
        ("no-room", r#""no room" 0 ctrunc=true"#),
        ("cmsg", "16 20 24"),
        ("dup", "true"),
        ("close", "ok"),
        ("close-copy", "ok"),
        ("fromfd-timeout", "Some(2.5s) None"),
        ("encoding-utf8", "ok"),
        (
            "encoding-binary",
            "err ValueError : binary mode doesn't take an encoding argument",
        ),
        ("consts", "2 4096 1025 0x7f000001"),
    ] {
        assert_eq!(out.line(label), want, "{label}: {out}");
    }
    assert!(out.line("cmsg-huge").starts_with("err ValueError"), "{out}");
    assert!(
        out.line("close-again")
            .starts_with("err OSError BadDescriptor"),
        "{out}"
    );
    assert!(
        out.line("encoding-latin1").starts_with("err ValueError"),
        "{out}"
    );
}

sockbox_tests::both_hosts!(
    socket_py_extras_in_the_rust_crate,
    makefile_newline_modes,
    makefile_binary_text_and_newlines,
    makefile_keeps_socket_open_until_closed,
    socket_io_would_block_and_timeout_rules,
    create_connection_timeouts_and_source_address,
    create_connection_errors,
    create_server_listens_and_checks,
    socketpair_fallback,
    dup_detach_fromfd_inheritable,
    sendmsg_recvmsg_and_flags,
    every_typed_option_round_trips,
    multicast_join_needs_a_bind_rule,
    netdb_functions,
    pure_helpers_and_constants_in_wasm,
);
