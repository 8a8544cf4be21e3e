//! The hostile-input matrix: every case hands the host something a guest should not, and prints
//! `label: ok` or `label: err <python name> <errno>: <message>` (see `report`). The host-side
//! test (`tests/tests/hostile.rs`) holds the expected outcome of each label.
//!
//! Args: `TCP_PORT UDP_PORT UNIX_DIR`; `/data` holds `f.txt` and the directory `sub`. The policy
//! allows connect to 127.0.0.1:TCP_PORT, `[::1]:TCP_PORT` and 127.0.0.1:UDP_PORT, bind to
//! 127.0.0.1:0, Unix paths under UNIX_DIR, lookups of `localhost`, and fd passing.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use sockbox::bindings::sockbox::socket::socket as raw;
use sockbox::bindings::sockbox::socket::types as t;
use sockbox::consts::sockopt as so;
use sockbox::{
    AddressFamily as Af, Error, Fd, MsgFlags, NameInfoFlags, SockAddress, Socket, SocketKind as Sk,
    Sockopt, UnixAddress, create_connection, create_server, fromshare, getaddrinfo, gethostbyaddr,
    gethostbyname, getnameinfo, getprotobyname, getservbyname, getservbyport, if_indextoname,
    if_nametoindex, inet_aton, inet_ntoa, inet_ntop, inet_pton, socketpair,
};
use sockbox_test_guests::report;

type R<T> = Result<T, Error>;

fn tcp() -> R<Socket> {
    Socket::new(Af::Inet, Sk::Stream, 0)
}

fn udp() -> R<Socket> {
    Socket::new(Af::Inet, Sk::Dgram, 0)
}

fn unix_path(path: &[u8]) -> SockAddress {
    SockAddress::Unix(UnixAddress::Path(path.to_vec()))
}

fn v4(port: u16) -> SockAddress {
    SockAddress::from(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

fn v(a: &str) -> SockAddress {
    SockAddress::from(a.parse::<SocketAddr>().expect("test address"))
}

/// A raw (binding-level) socket, for values the typed API cannot express.
fn raw_tcp() -> R<raw::Socket> {
    Ok(raw::Socket::create(
        t::AddressFamily::Inet,
        t::SocketKind::Stream,
        0,
    )?)
}

fn closed() -> R<Socket> {
    let s = tcp()?;
    s.close()?;
    Ok(s)
}

fn connected(port: u16) -> R<Socket> {
    let s = tcp()?;
    s.connect(v4(port))?;
    Ok(s)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args[1].parse().expect("TCP_PORT");
    let uport: u16 = args[2].parse().expect("UDP_PORT");
    let dir = args[3].clone();
    let in_dir = |name: &str| format!("{dir}/{name}").into_bytes();
    let one = 1i32.to_ne_bytes();

    let case = |label: &str, f: &dyn Fn() -> R<String>| report(label, f());

    // Families, kinds and protocols.
    case("create/family-other", &|| {
        tcp_with(Af::Other(99), Sk::Stream, 0)
    });
    case("create/family-unspec", &|| {
        tcp_with(Af::Unspec, Sk::Stream, 0)
    });
    case("create/kind-other", &|| {
        tcp_with(Af::Inet, Sk::Other(77), 0)
    });
    case("create/kind-raw", &|| tcp_with(Af::Inet, Sk::Raw, 0));
    case("create/proto-bogus", &|| {
        tcp_with(Af::Inet, Sk::Stream, 9999)
    });
    case("create/proto-udp-on-stream", &|| {
        tcp_with(Af::Inet, Sk::Stream, 17)
    });
    case("create/proto-negative", &|| {
        tcp_with(Af::Inet, Sk::Stream, -1)
    });
    case("create/mptcp", &|| tcp_with(Af::Inet, Sk::Stream, 262));
    case("create/udplite", &|| tcp_with(Af::Inet6, Sk::Dgram, 136));
    case("create/unix-kind-other", &|| {
        tcp_with(Af::Unix, Sk::Other(1), 0)
    });
    case("create/raw-family-other", &|| {
        raw::Socket::create(t::AddressFamily::Other(i32::MIN), t::SocketKind::Stream, 0)?;
        Ok(String::new())
    });

    // Addresses and the policy.
    case("connect/port-zero", &|| unit(tcp()?.connect(v4(0))));
    case("connect/denied-address", &|| {
        unit(tcp()?.connect(v("10.0.0.1:80")))
    });
    case("connect/denied-port", &|| unit(tcp()?.connect(v4(2))));
    case("connect/broadcast", &|| {
        unit(tcp()?.connect(v("255.255.255.255:80")))
    });
    case("connect/any-address", &|| {
        unit(tcp()?.connect(v("0.0.0.0:80")))
    });
    case("connect/v6-on-v4-socket", &|| {
        unit(tcp()?.connect(v(&format!("[::1]:{port}"))))
    });
    case("connect/unix-on-v4-socket", &|| {
        unit(tcp()?.connect(unix_path(&in_dir("x.sock"))))
    });
    case("connect/v4-mapped-denied", &|| {
        unit(Socket::new(Af::Inet6, Sk::Stream, 0)?.connect(v("[::ffff:10.0.0.1]:80")))
    });
    case("connect/v6-scope-denied", &|| {
        unit(
            Socket::new(Af::Inet6, Sk::Stream, 0)?.connect(SockAddress::Inet6(
                t::Ipv6SockAddress {
                    port: 80,
                    flow_info: u32::MAX,
                    address: (0xfe80, 0, 0, 0, 0, 0, 0, 1),
                    scope_id: u32::MAX,
                },
            )),
        )
    });
    case("connect/twice", &|| {
        let s = connected(port)?;
        unit(s.connect(v4(port)))
    });
    case("connect-ex/denied", &|| {
        Ok(format!("{:?}", tcp()?.connect_ex(v4(1))?))
    });
    case("bind/denied-port", &|| unit(tcp()?.bind(v4(80))));
    case("bind/denied-any", &|| unit(tcp()?.bind(v("0.0.0.0:80"))));
    // The any-address, port 0 needs no rule (connect binds so), but listen on it does.
    case("bind/any-0-then-listen", &|| {
        let s = tcp()?;
        s.bind(v("0.0.0.0:0"))?;
        unit(s.listen(5))
    });
    case("bind/allowed", &|| unit(tcp()?.bind(v4(0))));
    case("bind/twice", &|| {
        let s = tcp()?;
        s.bind(v4(0))?;
        unit(s.bind(v4(0)))
    });
    case("bind/after-connect", &|| unit(connected(port)?.bind(v4(0))));
    case("listen/unbound-denied", &|| unit(tcp()?.listen(5)));
    case("listen/udp", &|| {
        let s = udp()?;
        s.bind(v4(0))?;
        unit(s.listen(1))
    });
    case("listen/negative-backlog", &|| {
        let s = tcp()?;
        s.bind(v4(0))?;
        unit(s.listen(-5))
    });
    case("listen/huge-backlog", &|| {
        let s = tcp()?;
        s.bind(v4(0))?;
        unit(s.listen(i32::MAX))
    });
    case("accept/not-listening", &|| {
        let s = tcp()?;
        s.bind(v4(0))?;
        s.setblocking(false);
        unit(s.accept().map(drop))
    });
    case("accept/udp", &|| unit(udp()?.accept().map(drop)));
    case("accept/nothing-pending", &|| {
        let s = tcp()?;
        s.bind(v4(0))?;
        s.listen(1)?;
        s.setblocking(false);
        unit(s.accept().map(drop))
    });
    case("sendto/denied", &|| {
        Ok(udp()?.sendto(b"x", v("10.1.1.1:9"))?.to_string())
    });
    case("sendto/denied-port", &|| {
        Ok(udp()?.sendto(b"x", v4(9))?.to_string())
    });
    case("sendto/oversized-datagram", &|| {
        Ok(udp()?.sendto(&vec![0; 70_000], v4(uport))?.to_string())
    });
    case("sendto/unix-on-udp", &|| {
        Ok(udp()?
            .sendto(b"x", unix_path(&in_dir("u.sock")))?
            .to_string())
    });
    case("sendmsg/denied", &|| {
        Ok(udp()?
            .sendmsg(&[b"a", b"b"], MsgFlags::empty(), Some(v("10.2.2.2:9")))?
            .to_string())
    });
    case("sendmsg/no-address", &|| {
        Ok(udp()?
            .sendmsg(&[b"a"], MsgFlags::empty(), None)?
            .to_string())
    });
    case("sendmsg/many-buffers", &|| {
        let bufs: Vec<&[u8]> = vec![b"x"; 5000];
        Ok(connected(port)?
            .sendmsg(&bufs, MsgFlags::empty(), None)?
            .to_string())
    });

    // Unix-domain paths.
    case("unix/outside-dir", &|| {
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(unix_path(b"/tmp/elsewhere.sock")))
    });
    case("unix/dotdot-escape", &|| {
        let p = format!("{dir}/../escape.sock");
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(unix_path(p.as_bytes())))
    });
    case("unix/relative", &|| {
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(unix_path(b"rel.sock")))
    });
    case("unix/too-long", &|| {
        let p = in_dir(&"a".repeat(200));
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(unix_path(&p)))
    });
    case("unix/huge-path", &|| {
        let p = in_dir(&"b".repeat(100_000));
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(unix_path(&p)))
    });
    case("unix/nul-in-path", &|| {
        let mut p = in_dir("a");
        p.extend(b"\0b");
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(unix_path(&p)))
    });
    case("unix/non-utf8-path", &|| {
        let mut p = in_dir("");
        p.extend([0xff, 0xfe]);
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(unix_path(&p)))
    });
    case("unix/missing", &|| {
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(unix_path(&in_dir("missing.sock"))))
    });
    case("unix/bind-existing-file", &|| {
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.bind(unix_path(&in_dir("taken"))))
    });
    case("unix/abstract-denied", &|| {
        let a = SockAddress::Unix(UnixAddress::Abstract(b"other".to_vec()));
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(a))
    });
    case("unix/abstract-huge", &|| {
        let a = SockAddress::Unix(UnixAddress::Abstract(vec![b'x'; 5000]));
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(a))
    });
    case("unix/inet-on-unix-socket", &|| {
        unit(Socket::new(Af::Unix, Sk::Stream, 0)?.connect(v4(port)))
    });
    case("unix/unnamed-bind", &|| {
        let s = Socket::new(Af::Unix, Sk::Dgram, 0)?;
        unit(s.bind(SockAddress::Unix(UnixAddress::Unnamed)))
    });

    // Names.
    case("gai/nul", &|| {
        count(getaddrinfo(
            Some("local\0host"),
            None,
            Af::Unspec,
            None,
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/denied", &|| {
        count(getaddrinfo(
            Some("example.com"),
            Some("80"),
            Af::Unspec,
            None,
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/over-long-name", &|| {
        let name = "a".repeat(100_000);
        count(getaddrinfo(
            Some(&name),
            None,
            Af::Unspec,
            None,
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/empty-name", &|| {
        count(getaddrinfo(
            Some(""),
            Some("80"),
            Af::Unspec,
            None,
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/no-host-no-port", &|| {
        count(getaddrinfo(
            None,
            None,
            Af::Unspec,
            None,
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/bad-service", &|| {
        count(getaddrinfo(
            Some("127.0.0.1"),
            Some("no-such-service"),
            Af::Unspec,
            None,
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/family-unix", &|| {
        count(getaddrinfo(
            Some("127.0.0.1"),
            Some("80"),
            Af::Unix,
            None,
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/family-other", &|| {
        count(getaddrinfo(
            Some("127.0.0.1"),
            Some("80"),
            Af::Other(1234),
            None,
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/kind-raw", &|| {
        count(getaddrinfo(
            Some("127.0.0.1"),
            Some("80"),
            Af::Unspec,
            Some(Sk::Raw),
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/port-out-of-range", &|| {
        count(getaddrinfo(
            Some("127.0.0.1"),
            Some("70000"),
            Af::Unspec,
            None,
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/allowed", &|| {
        count(getaddrinfo(
            Some("localhost"),
            Some("80"),
            Af::Inet,
            Some(Sk::Stream),
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("gai/numeric-nul-service", &|| {
        count(getaddrinfo(
            Some("127.0.0.1"),
            Some("8\x000"),
            Af::Unspec,
            None,
            0,
            sockbox::AddrInfoFlags::empty(),
        ))
    });
    case("getnameinfo/denied", &|| {
        Ok(format!(
            "{:?}",
            getnameinfo(
                SocketAddr::from(([10, 0, 0, 1], 80)),
                NameInfoFlags::empty()
            )?
        ))
    });
    case("getnameinfo/numeric", &|| {
        Ok(format!(
            "{:?}",
            getnameinfo(
                SocketAddr::from(([10, 0, 0, 1], 80)),
                NameInfoFlags::NUMERICHOST | NameInfoFlags::NUMERICSERV
            )?
        ))
    });
    case("gethostbyaddr/denied", &|| {
        Ok(gethostbyaddr("10.0.0.1")?.name)
    });
    case("gethostbyaddr/nul", &|| {
        Ok(gethostbyaddr("10.0.0.1\0")?.name)
    });
    case("gethostbyname/nul", &|| gethostbyname("a\0b"));
    case("gethostbyname/denied", &|| gethostbyname("evil.example"));
    case("getservbyname/nul", &|| {
        Ok(getservbyname("ht\0tp", None)?.to_string())
    });
    case("getservbyname/unknown", &|| {
        Ok(getservbyname("no-such-service", Some("tcp"))?.to_string())
    });
    case("getservbyname/bad-proto", &|| {
        Ok(getservbyname("http", Some("sctp!"))?.to_string())
    });
    case("getservbyport/bad-proto", &|| {
        getservbyport(80, Some("nope"))
    });
    case("getprotobyname/unknown", &|| {
        Ok(getprotobyname("nope")?.to_string())
    });
    case("if_nametoindex/unknown", &|| {
        Ok(if_nametoindex("no-such-if0")?.to_string())
    });
    case("if_nametoindex/nul", &|| {
        Ok(if_nametoindex("lo\0")?.to_string())
    });
    case("if_indextoname/zero", &|| if_indextoname(0));
    case("if_indextoname/huge", &|| if_indextoname(u32::MAX));
    case("inet_aton/bad", &|| {
        Ok(format!("{:?}", inet_aton("300.1.1.1")?))
    });
    case("inet_pton/v6-as-v4", &|| {
        Ok(format!("{:?}", inet_pton(Af::Inet, "::1")?))
    });
    case("inet_pton/family-unix", &|| {
        Ok(format!("{:?}", inet_pton(Af::Unix, "1.2.3.4")?))
    });
    case("inet_ntop/short", &|| inet_ntop(Af::Inet, &[1, 2, 3]));
    case("inet_ntoa/long", &|| inet_ntoa(&[1, 2, 3, 4, 5]));
    case("create_connection/denied-name", &|| {
        unit(create_connection(("example.com", 80)).connect().map(drop))
    });
    case("create_connection/denied-port", &|| {
        unit(create_connection(("127.0.0.1", 1)).connect().map(drop))
    });
    case("create_connection/denied-source", &|| {
        unit(
            create_connection(("127.0.0.1", port))
                .source_address(SocketAddr::from(([127, 0, 0, 1], 80)))
                .connect()
                .map(drop),
        )
    });
    case("create_server/denied", &|| {
        unit(create_server(v4(80)).listen().map(drop))
    });

    // Sizes and counts.
    case("recv/huge-bufsize", &|| {
        let s = raw_tcp()?;
        s.connect(&v4(port))?;
        s.sendall(b"ping", t::MsgFlags::empty())?;
        let got = s.recv(u64::MAX, t::MsgFlags::empty())?;
        Ok(format!("{} bytes", got.len()))
    });
    case("recv/zero", &|| {
        Ok(connected(port)?.recv(0)?.len().to_string())
    });
    case("recv_into/empty-buffer", &|| {
        Ok(connected(port)?.recv_into(&mut [])?.to_string())
    });
    case("recvfrom/huge-nonblocking", &|| {
        let s = udp()?;
        s.bind(v4(0))?;
        s.setblocking(false);
        Ok(format!("{:?}", s.recvfrom(usize::MAX)?))
    });
    case("recvmsg/huge-nonblocking", &|| {
        let s = udp()?;
        s.bind(v4(0))?;
        s.setblocking(false);
        Ok(format!(
            "{:?}",
            s.recvmsg(usize::MAX, MsgFlags::empty())?.data.len()
        ))
    });
    case("recv/oob-without-urgent-data", &|| {
        Ok(format!(
            "{:?}",
            connected(port)?.recv_with_flags(1, MsgFlags::OOB)?
        ))
    });
    case("send/empty", &|| {
        Ok(connected(port)?.send(b"")?.to_string())
    });
    case("send/unconnected", &|| Ok(tcp()?.send(b"x")?.to_string()));
    case("recv/unconnected", &|| {
        Ok(tcp()?.recv(1)?.len().to_string())
    });
    case("shutdown/unconnected", &|| {
        unit(tcp()?.shutdown(std::net::Shutdown::Both))
    });
    case("getpeername/unconnected", &|| {
        Ok(format!("{:?}", tcp()?.getpeername()?))
    });
    case("recv_fds/maxfds-zero", &|| {
        let (a, b) = socketpair(Af::Unix, Sk::Stream, 0)?;
        a.send_fds(&[b"x"], &[Fd::Socket(&a)], MsgFlags::empty(), None)?;
        let m = b.recv_fds(10, 0, MsgFlags::empty())?;
        Ok(format!(
            "{} fds, ctrunc {}",
            m.fds.len(),
            (m.flags & MsgFlags::CTRUNC) == MsgFlags::CTRUNC
        ))
    });
    case("recv_fds/maxfds-huge", &|| {
        let (a, b) = socketpair(Af::Unix, Sk::Stream, 0)?;
        a.send_fds(
            &[b"x"],
            &[Fd::Socket(&a), Fd::Socket(&b)],
            MsgFlags::empty(),
            None,
        )?;
        let m = b.recv_fds(10, u32::MAX, MsgFlags::empty())?;
        Ok(format!("{} fds", m.fds.len()))
    });
    case("recv_fds/bufsize-huge", &|| {
        let (a, b) = socketpair(Af::Unix, Sk::Stream, 0)?;
        a.send(b"x")?;
        Ok(format!(
            "{} bytes",
            b.recv_fds(usize::MAX, 1, MsgFlags::empty())?.data.len()
        ))
    });
    case("send_fds/too-many", &|| {
        let (a, _b) = socketpair(Af::Unix, Sk::Stream, 0)?;
        let fds: Vec<Fd<'_>> = (0..300).map(|_| Fd::Socket(&a)).collect();
        Ok(a.send_fds(&[b"x"], &fds, MsgFlags::empty(), None)?
            .to_string())
    });
    case("send_fds/on-tcp", &|| {
        let s = connected(port)?;
        Ok(
            s.send_fds(&[b"x"], &[Fd::Socket(&s)], MsgFlags::empty(), None)?
                .to_string(),
        )
    });
    case("send_fds/no-data", &|| {
        let (a, _b) = socketpair(Af::Unix, Sk::Stream, 0)?;
        Ok(a.send_fds(&[], &[Fd::Socket(&a)], MsgFlags::empty(), None)?
            .to_string())
    });
    case("socketpair/inet-dgram", &|| {
        unit(socketpair(Af::Inet, Sk::Dgram, 0).map(drop))
    });
    case("socketpair/family-other", &|| {
        unit(socketpair(Af::Other(5), Sk::Stream, 0).map(drop))
    });

    // Options.
    case("sockopt/raw-unknown", &|| {
        unit(tcp()?.setsockopt_raw(so::SOL_SOCKET, 9999, &one))
    });
    case("sockopt/raw-bindtodevice", &|| {
        unit(tcp()?.setsockopt_raw(so::SOL_SOCKET, so::SO_BINDTODEVICE, b"lo\0"))
    });
    case("sockopt/raw-mark", &|| {
        unit(tcp()?.setsockopt_raw(so::SOL_SOCKET, so::SO_MARK, &one))
    });
    case("sockopt/raw-priority", &|| {
        unit(tcp()?.setsockopt_raw(so::SOL_SOCKET, so::SO_PRIORITY, &one))
    });
    case("sockopt/raw-transparent", &|| {
        unit(tcp()?.setsockopt_raw(so::IPPROTO_IP, so::IP_TRANSPARENT, &one))
    });
    case("sockopt/raw-wrong-size", &|| {
        unit(tcp()?.setsockopt_raw(so::SOL_SOCKET, so::SO_REUSEADDR, &[1, 0]))
    });
    case("sockopt/raw-empty", &|| {
        unit(tcp()?.setsockopt_raw(so::IPPROTO_TCP, so::TCP_NODELAY, &[]))
    });
    case("sockopt/raw-huge-value", &|| {
        unit(tcp()?.setsockopt_raw(so::IPPROTO_TCP, so::TCP_NODELAY, &vec![1; 1 << 20]))
    });
    case("sockopt/raw-negative-level", &|| {
        unit(tcp()?.setsockopt_raw(-1, so::SO_REUSEADDR, &one))
    });
    case("sockopt/raw-negative-buffer-size", &|| {
        unit(tcp()?.setsockopt_raw(so::SOL_SOCKET, so::SO_RCVBUF, &(-1i32).to_ne_bytes()))
    });
    case("sockopt/raw-set-read-only", &|| {
        unit(tcp()?.setsockopt_raw(so::SOL_SOCKET, so::SO_TYPE, &one))
    });
    case("sockopt/raw-membership-denied", &|| {
        unit(udp()?.setsockopt_raw(
            so::IPPROTO_IP,
            so::IP_ADD_MEMBERSHIP,
            &[239, 1, 1, 1, 0, 0, 0, 0],
        ))
    });
    case("sockopt/raw-get-unknown", &|| {
        Ok(format!(
            "{:?}",
            tcp()?.getsockopt_raw(so::IPPROTO_TCP, 9999, 4)?
        ))
    });
    case("sockopt/raw-get-zero-buflen", &|| {
        Ok(format!(
            "{:?}",
            tcp()?.getsockopt_raw(so::SOL_SOCKET, so::SO_REUSEADDR, 0)?
        ))
    });
    case("sockopt/raw-get-huge-buflen", &|| {
        Ok(format!(
            "{:?}",
            tcp()?
                .getsockopt_raw(so::SOL_SOCKET, so::SO_TYPE, u32::MAX)?
                .len()
        ))
    });
    case("sockopt/raw-get-membership", &|| {
        Ok(format!(
            "{:?}",
            udp()?.getsockopt_raw(so::IPPROTO_IP, so::IP_ADD_MEMBERSHIP, 8)?
        ))
    });
    case("sockopt/linger-timeout", &|| {
        unit(tcp()?.setsockopt(Sockopt::SoLinger(Some(10))))
    });
    case("sockopt/set-so-error", &|| {
        unit(tcp()?.setsockopt(Sockopt::SoError(None)))
    });
    case("sockopt/nodelay-on-udp", &|| {
        unit(udp()?.setsockopt(Sockopt::TcpNodelay(true)))
    });
    case("sockopt/ttl-zero", &|| {
        unit(tcp()?.setsockopt(Sockopt::IpTtl(0)))
    });
    case("sockopt/ttl-huge", &|| {
        unit(tcp()?.setsockopt(Sockopt::IpTtl(u32::MAX)))
    });
    case("sockopt/keepcnt-huge", &|| {
        unit(tcp()?.setsockopt(Sockopt::TcpKeepcnt(u32::MAX)))
    });
    case("sockopt/multicast-denied", &|| {
        unit(udp()?.join_multicast_v4(Ipv4Addr::new(239, 1, 1, 1), Ipv4Addr::UNSPECIFIED))
    });
    case("sockopt/v6only-on-v4", &|| {
        unit(tcp()?.setsockopt(Sockopt::Ipv6V6only(true)))
    });

    // Timeouts.
    case("timeout/negative", &|| {
        unit(tcp()?.settimeout_secs(Some(-1.0)))
    });
    case("timeout/nan", &|| {
        unit(tcp()?.settimeout_secs(Some(f64::NAN)))
    });
    case("timeout/infinite", &|| {
        unit(tcp()?.settimeout_secs(Some(f64::INFINITY)))
    });
    case("timeout/huge", &|| {
        unit(tcp()?.settimeout_secs(Some(1e300)))
    });
    case("timeout/raw-max-nanos", &|| {
        let s = raw_tcp()?;
        s.settimeout(Some(u64::MAX));
        Ok(format!("{:?}", s.gettimeout()))
    });
    case("timeout/one-nanosecond", &|| {
        let s = connected(port)?;
        s.settimeout(Some(Duration::from_nanos(1)));
        Ok(s.recv(1)?.len().to_string())
    });
    case("timeout/default-huge", &|| {
        sockbox::setdefaulttimeout(Some(Duration::from_nanos(u64::MAX)));
        let s = tcp()?;
        sockbox::setdefaulttimeout(None);
        Ok(format!("{:?}", s.gettimeout()))
    });

    // Closed, detached and reused handles.
    case("closed/send", &|| Ok(closed()?.send(b"x")?.to_string()));
    case("closed/recv", &|| Ok(closed()?.recv(1)?.len().to_string()));
    case("closed/bind", &|| unit(closed()?.bind(v4(0))));
    case("closed/connect", &|| unit(closed()?.connect(v4(port))));
    case("closed/getsockname", &|| {
        Ok(format!("{:?}", closed()?.getsockname()?))
    });
    case("closed/setsockopt", &|| {
        unit(closed()?.setsockopt(Sockopt::TcpNodelay(true)))
    });
    case("closed/close-again", &|| unit(closed()?.close()));
    case("closed/dup", &|| unit(closed()?.dup().map(drop)));
    case("closed/makefile", &|| {
        unit(closed()?.makefile("rb").map(drop))
    });
    case("closed/share", &|| unit(closed()?.share().map(drop)));
    case("closed/sendfile", &|| {
        let f = sockbox::fs::open("/data/f.txt")?;
        Ok(closed()?.sendfile(&f, 0, None)?.to_string())
    });
    case("closed/send_fds", &|| {
        let (a, _b) = socketpair(Af::Unix, Sk::Stream, 0)?;
        let c = closed()?;
        Ok(
            a.send_fds(&[b"x"], &[Fd::Socket(&c)], MsgFlags::empty(), None)?
                .to_string(),
        )
    });
    case("fd/detached-twice", &|| {
        let fd = tcp()?.detach();
        let again = Socket::from_fd(fd)?;
        drop(again);
        unit(Socket::from_fd(fd).map(drop))
    });
    case("fd/bogus", &|| unit(Socket::from_fd(123_456).map(drop)));
    case("fd/negative", &|| unit(Socket::from_fd(-1).map(drop)));
    case("share/garbage-token", &|| {
        unit(fromshare(b"garbage").map(drop))
    });
    case("share/empty-token", &|| unit(fromshare(b"").map(drop)));
    case("share/huge-token", &|| {
        unit(fromshare(&vec![7; 1 << 16]).map(drop))
    });
    case("share/token-used-twice", &|| {
        let token = tcp()?.share()?;
        fromshare(&token)?;
        unit(fromshare(&token).map(drop))
    });
    case("share/park-past-limit", &|| {
        // The instance may park 16 sockets at once; each taken back frees its place.
        let mut tokens = Vec::new();
        let refused = loop {
            match tcp()?.share() {
                Ok(token) if tokens.len() < 100 => tokens.push(token),
                Ok(_) => break Ok("never refused".to_string()),
                Err(e) => break Err(e),
            }
        };
        for token in &tokens {
            drop(fromshare(token)?);
        }
        refused
    });
    case("share/use-after-share", &|| {
        let s = connected(port)?;
        let _token = s.share()?;
        s.sendall(b"still mine")?;
        Ok(s.recv(64)?.len().to_string())
    });
    case("socketio/after-close", &|| {
        let s = connected(port)?;
        let f = s.makefile("rb")?;
        f.raw().close();
        Ok(format!("{:?}", f.raw().readinto(&mut [0; 4])?))
    });
    case("socketio/bad-mode", &|| {
        unit(connected(port)?.makefile("rwx+").map(drop))
    });

    // sendfile.
    case("sendfile/directory", &|| {
        let d = sockbox::fs::open("/data/sub")?;
        Ok(connected(port)?.sendfile(&d, 0, None)?.to_string())
    });
    case("sendfile/offset-past-end", &|| {
        let f = sockbox::fs::open("/data/f.txt")?;
        Ok(connected(port)?.sendfile(&f, u64::MAX, None)?.to_string())
    });
    case("sendfile/count-huge", &|| {
        let f = sockbox::fs::open("/data/f.txt")?;
        Ok(connected(port)?
            .sendfile(&f, 0, Some(u64::MAX))?
            .to_string())
    });
    case("sendfile/unconnected", &|| {
        let f = sockbox::fs::open("/data/f.txt")?;
        Ok(tcp()?.sendfile(&f, 0, None)?.to_string())
    });
    case("sendfile/udp-unconnected", &|| {
        let f = sockbox::fs::open("/data/f.txt")?;
        Ok(udp()?.sendfile(&f, 0, None)?.to_string())
    });

    // Limits: the last case, as it fills the instance's socket table.
    case("limits/max-sockets", &|| {
        let mut held = Vec::new();
        loop {
            match tcp() {
                Ok(s) => held.push(s),
                Err(e) => {
                    println!("limits/opened: {}", held.len());
                    return Err(e);
                }
            }
            if held.len() > 10_000 {
                return Ok("no limit".to_string());
            }
        }
    });
    println!("done");
}

fn tcp_with(family: Af, kind: Sk, proto: i32) -> R<String> {
    Socket::new(family, kind, proto).map(|s| format!("{:?}", s.family()))
}

fn unit(r: R<()>) -> R<String> {
    r.map(|()| String::new())
}

fn count<T>(r: R<Vec<T>>) -> R<String> {
    r.map(|v| format!("{} answers", v.len()))
}
