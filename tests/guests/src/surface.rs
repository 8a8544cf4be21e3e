//! The guest side of the socket.py-surface tests: `surface NAME ARGS...` runs one case and
//! prints what it saw, one fact per line.

use std::io::{BufRead, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr};
use std::time::Duration;

use sockbox::consts::{AF_INET, MSG_PEEK, MSG_WAITALL};
use sockbox::{
    AddrInfoFlags, AddressFamily, Errno, Error, MsgFlags, NameInfoFlags, Socket, SocketIo,
    SocketKind, Sockopt, SockoptName,
};

use sockbox_test_guests::report;

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = &args[1..];
    let port = |i: usize| -> u16 { rest[i].parse().expect("port") };
    match args[0].as_str() {
        "makefile" => makefile(port(0)),
        "io-refs" => io_refs(port(0)),
        "newlines" => newlines(),
        "socket-io" => socket_io(port(0)),
        "create-connection" => create_connection(&rest[0], port(1)),
        "create-connection-errors" => create_connection_errors(&rest[0], port(1)),
        "create-server" => create_server(port(0)),
        "socketpair" => socketpair(),
        "descriptors" => descriptors(),
        "messages" => messages(port(0), port(1)),
        "options" => options(),
        "multicast" => multicast(),
        "netdb" => netdb(),
        "pure" => pure(),
        "socket-py-extras" => socket_py_extras(),
        other => Err(format!("unknown case {other}").into()),
    }
}

fn connect(port: u16) -> Result<Socket, Error> {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.settimeout(Some(Duration::from_secs(10)));
    s.connect(("127.0.0.1", port))?;
    Ok(s)
}

/// makefile in its modes against a native peer that echoes lines and then sends
/// "a\r\nb\rc\n" and closes.
fn makefile(port: u16) -> Res {
    let s = connect(port)?;
    // Binary read/write: lines out, lines back.
    let mut f = s.makefile("rwb")?;
    f.write_all(b"one\ntwo\n")?;
    f.flush()?;
    let mut line = Vec::new();
    f.read_until(b'\n', &mut line)?;
    println!("binary-line: {:?}", String::from_utf8_lossy(&line));
    line.clear();
    f.read_until(b'\n', &mut line)?;
    println!("binary-line: {:?}", String::from_utf8_lossy(&line));
    drop(f);
    // Text, newline="\r\n": "\n" goes out as "\r\n" (the peer echoes it back untranslated
    // through a binary file).
    let mut w = s.makefile_with("w", None, Some("utf-8"), Some("\r\n"))?;
    writeln!(w, "crlf")?;
    w.flush()?;
    drop(w);
    let mut raw = s.makefile("rb")?;
    let mut echoed = Vec::new();
    raw.read_until(b'\n', &mut echoed)?;
    println!("crlf-echo: {:?}", String::from_utf8_lossy(&echoed));
    drop(raw);
    // Text, universal newlines: the peer's "a\r\nb\rc\n" reads as three lines.
    s.sendall(b"END\n")?;
    let text = s.makefile("r")?;
    let lines: Vec<String> = text.lines().collect::<Result<_, _>>()?;
    println!("text-lines: {lines:?}");
    report("mode-bad", s.makefile("rx"));
    report("text-unbuffered", s.makefile_with("r", Some(0), None, None));
    report("newline-bad", s.makefile_with("r", None, None, Some("x")));
    let raw = s.makefile_with("rb", Some(0), None, None)?;
    println!("unbuffered-binary: {} {}", raw.mode(), raw.is_text());
    Ok(())
}

/// readline's line ends in each text newline mode (over a socketpair).
fn newlines() -> Res {
    for (label, newline) in [
        ("universal", None),
        ("untranslated", Some("")),
        ("cr", Some("\r")),
        ("crlf", Some("\r\n")),
    ] {
        let (a, b) = sockbox::socketpair(AddressFamily::Inet, SocketKind::Stream, 0)?;
        a.sendall(b"x\ry\r\nz\n")?;
        a.shutdown(Shutdown::Write)?;
        let mut f = b.makefile_with("r", None, None, newline)?;
        let mut lines = Vec::new();
        loop {
            let line = f.readline()?;
            if line.is_empty() {
                break;
            }
            lines.push(line);
        }
        println!("{label}: {lines:?}");
    }
    Ok(())
}

/// socket.py's _io_refs rule: close() with a file open keeps the OS socket open until the file
/// is closed too; the native peer sees EOF only then.
fn io_refs(port: u16) -> Res {
    let s = connect(port)?;
    let mut f = s.makefile("rwb")?;
    s.close()?;
    println!("fileno-after-close: {}", s.fileno());
    f.write_all(b"still open\n")?;
    f.flush()?;
    let mut line = String::new();
    f.read_line(&mut line)?;
    println!("after-close: {:?}", line);
    // A second connection on which the peer says when it saw end-of-stream on the first.
    let ctl = connect(port)?;
    drop(f); // the last reference: the OS socket closes now
    println!("eof: {}", String::from_utf8_lossy(&ctl.recv(16)?));
    Ok(())
}

/// SocketIo itself: None on would-block, and reads refused after a timeout.
fn socket_io(port: u16) -> Res {
    let s = connect(port)?;
    let io = SocketIo::new(&s, "rwb")?;
    println!(
        "flags: readable={} writable={} seekable={} mode={} name-is-fileno={}",
        io.readable()?,
        io.writable()?,
        io.seekable()?,
        io.mode(),
        io.name() == s.fileno()
    );
    s.setblocking(false);
    let mut buf = [0u8; 16];
    println!("nonblocking-read: {:?}", io.readinto(&mut buf)?);
    s.settimeout(Some(Duration::from_millis(100)));
    report("timeout-read", io.readinto(&mut buf));
    report("after-timeout", io.readinto(&mut buf));
    report("bad-mode", SocketIo::new(&s, "rwx"));
    io.close();
    report("closed-read", io.readinto(&mut buf));
    report("closed-readable", io.readable());
    println!("closed: {}", io.closed());
    Ok(())
}

/// create_connection: by name, its timeout sentinel, a source address.
fn create_connection(host: &str, port: u16) -> Res {
    sockbox::setdefaulttimeout(Some(Duration::from_secs(7)));
    let s = sockbox::create_connection((host, port)).connect()?;
    println!("default-timeout: {:?}", s.gettimeout());
    let s = sockbox::create_connection((host, port))
        .blocking()
        .connect()?;
    println!("blocking: {:?}", s.gettimeout());
    let s = sockbox::create_connection((host, port))
        .timeout(Duration::from_secs(2))
        .source_address("127.0.0.1:0".parse()?)
        .connect()?;
    println!("timeout: {:?}", s.gettimeout());
    println!("peer: {}", s.getpeername()?);
    s.sendall(b"ping")?;
    println!("echo: {}", String::from_utf8_lossy(&s.recv(16)?));
    Ok(())
}

/// create_connection failures: the first error, or every error with all_errors.
fn create_connection_errors(host: &str, port: u16) -> Res {
    report("last", sockbox::create_connection((host, port)).connect());
    match sockbox::create_connection((host, port))
        .all_errors(true)
        .connect()
    {
        Err(Error::Group(errors)) => {
            println!("group: {}", errors.len());
            for e in errors {
                report("member", Err::<(), _>(e));
            }
        }
        other => report("group-unexpected", other),
    }
    report(
        "lookup-denied",
        sockbox::create_connection(("example.invalid", port)).connect(),
    );
    Ok(())
}

/// create_server: a listener native clients reach; dual-stack; its errors.
fn create_server(control: u16) -> Res {
    let server = sockbox::create_server(("127.0.0.1", 0))
        .backlog(4)
        .listen()?;
    println!("reuseaddr: {}", server.reuse_address()?);
    let dual = sockbox::create_server(("::", 0))
        .family(AddressFamily::Inet6)
        .dualstack_ipv6(true)
        .listen();
    let dual = match dual {
        Ok(d) => Some(d),
        Err(e) => {
            report("dualstack", Err::<(), _>(e));
            None
        }
    };
    println!("has-dualstack: {}", sockbox::has_dualstack_ipv6());
    // Tell the native side both ports, then serve one connection on each.
    let ctl = connect(control)?;
    let dual_port = dual
        .as_ref()
        .map_or(Ok(0), |d| d.getsockname().map(|a| a.port().unwrap_or(0)))?;
    ctl.sendall(
        format!(
            "{} {}\n",
            server.getsockname()?.port().unwrap_or(0),
            dual_port
        )
        .as_bytes(),
    )?;
    let (c, _) = server.accept()?;
    println!("v4-got: {}", String::from_utf8_lossy(&c.recv(64)?));
    if let Some(d) = &dual {
        println!("v6only: {}", d.only_v6()?);
        for _ in 0..2 {
            let (c, peer) = d.accept()?;
            println!(
                "dual-got: {} from-v4-mapped={}",
                String::from_utf8_lossy(&c.recv(64)?),
                peer.to_string().contains("::ffff:127.0.0.1")
            );
        }
    }
    report(
        "dualstack-needs-inet6",
        sockbox::create_server(("127.0.0.1", 0))
            .dualstack_ipv6(true)
            .listen(),
    );
    let taken = server.getsockname()?.port().unwrap_or(0);
    report(
        "in-use",
        sockbox::create_server(("127.0.0.1", taken)).listen(),
    );
    report("no-rule", sockbox::create_server(("127.0.0.2", 0)).listen());
    Ok(())
}

/// socketpair: the AF_INET/AF_INET6 fallback, and its argument checks.
fn socketpair() -> Res {
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let (a, b) = sockbox::socketpair(family, SocketKind::Stream, 0)?;
        a.sendall(b"to b")?;
        b.sendall(b"to a")?;
        println!(
            "{family}: {} {} same-pair={}",
            String::from_utf8_lossy(&b.recv(16)?),
            String::from_utf8_lossy(&a.recv(16)?),
            a.getsockname()?.to_string() == b.getpeername()?.to_string()
        );
    }
    report(
        "dgram",
        sockbox::socketpair(AddressFamily::Inet, SocketKind::Dgram, 0),
    );
    report(
        "proto",
        sockbox::socketpair(AddressFamily::Inet, SocketKind::Stream, 6),
    );
    report(
        "unix",
        sockbox::socketpair(AddressFamily::Unix, SocketKind::Stream, 0),
    );
    report(
        "other",
        sockbox::socketpair(AddressFamily::Other(99), SocketKind::Stream, 0),
    );
    Ok(())
}

/// dup, detach, from_fd, fromfd, fileno, inheritable.
fn descriptors() -> Res {
    let (a, b) = sockbox::socketpair(AddressFamily::Inet, SocketKind::Stream, 0)?;
    a.settimeout(Some(Duration::from_secs(3)));
    let d = a.dup()?;
    println!(
        "dup-timeout: {:?} distinct-fileno={}",
        d.gettimeout(),
        d.fileno() != a.fileno()
    );
    a.close()?;
    d.sendall(b"via dup")?;
    println!("dup-after-close: {}", String::from_utf8_lossy(&b.recv(16)?));
    println!("inheritable: {}", d.get_inheritable()?);
    d.set_inheritable(true)?;
    println!("inheritable-set: {}", d.get_inheritable()?);
    let fd = d.detach();
    report("from-fd-wrong", Socket::from_fd(fd + 1000));
    let back = Socket::from_fd(fd)?;
    println!("from-fd-same: {}", back.fileno() == fd);
    report("from-fd-twice", Socket::from_fd(fd));
    let copy = sockbox::fromfd(back.fileno())?;
    copy.sendall(b"via fromfd")?;
    println!("fromfd: {}", String::from_utf8_lossy(&b.recv(16)?));
    report("fromfd-unknown", sockbox::fromfd(4242));
    report("fromfd-negative", sockbox::fromfd(-1));
    println!("closed-fileno: {}", a.fileno());
    report("closed-inheritable", a.get_inheritable());
    Ok(())
}

/// sendmsg/recvmsg on UDP (gathered buffers, the sender, MSG_TRUNC), recv_into, recvfrom_into,
/// MSG_PEEK and MSG_WAITALL as C numbers.
fn messages(udp_port: u16, tcp_port: u16) -> Res {
    let u = Socket::new(AddressFamily::Inet, SocketKind::Dgram, 0)?;
    u.settimeout(Some(Duration::from_secs(10)));
    let to: SocketAddr = (Ipv4Addr::LOCALHOST, udp_port).into();
    let n = u.sendmsg(
        &[b"gath", b"ered ", b"datagram"],
        MsgFlags::empty(),
        Some(to.into()),
    )?;
    println!("sendmsg: {n}");
    let m = u.recvmsg(64, MsgFlags::empty())?;
    println!(
        "recvmsg: {} from={} trunc={}",
        String::from_utf8_lossy(&m.data),
        m.address.map(|a| a.to_string()).unwrap_or_default(),
        (m.flags & MsgFlags::TRUNC) != MsgFlags::empty()
    );
    u.sendmsg(&[b"0123456789"], MsgFlags::empty(), Some(to.into()))?;
    let m = u.recvmsg(4, MsgFlags::empty())?;
    println!(
        "recvmsg-short: {} trunc={}",
        String::from_utf8_lossy(&m.data),
        (m.flags & MsgFlags::TRUNC) != MsgFlags::empty()
    );
    u.sendto(b"into", to)?;
    let mut buf = [0u8; 8];
    let (n, from) = u.recvfrom_into(&mut buf)?;
    println!(
        "recvfrom_into: {} {}",
        String::from_utf8_lossy(&buf[..n]),
        from.is_some()
    );

    let t = connect(tcp_port)?;
    t.sendall(b"peekaboo")?;
    let peek = MsgFlags::from_raw(MSG_PEEK)?;
    let peeked = t.recv_with_flags(4, peek)?;
    let all = t.recv_with_flags(8, MsgFlags::from_raw(MSG_WAITALL)?)?;
    println!(
        "peek: {} then {}",
        String::from_utf8_lossy(&peeked),
        String::from_utf8_lossy(&all)
    );
    t.sendall(b"xy")?;
    let mut small = [0u8; 2];
    let n = t.recv_into(&mut small)?;
    println!("recv_into: {}", String::from_utf8_lossy(&small[..n]));
    t.shutdown(Shutdown::Both)?;
    Ok(())
}

/// Every typed option round-trips on the socket kinds it applies to.
fn options() -> Res {
    let t4 = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    let t6 = Socket::new(AddressFamily::Inet6, SocketKind::Stream, 0)?;
    let u4 = Socket::new(AddressFamily::Inet, SocketKind::Dgram, 0)?;
    let u6 = Socket::new(AddressFamily::Inet6, SocketKind::Dgram, 0)?;
    let cases: Vec<(&Socket, Sockopt)> = vec![
        (&t4, Sockopt::SoReuseaddr(true)),
        (&t4, Sockopt::SoReuseport(true)),
        (&t4, Sockopt::SoKeepalive(true)),
        (&u4, Sockopt::SoBroadcast(true)),
        (&t4, Sockopt::SoLinger(Some(0))),
        (&t4, Sockopt::SoRcvlowat(16)),
        (&t4, Sockopt::TcpNodelay(true)),
        (&t4, Sockopt::TcpCork(true)),
        (&t4, Sockopt::TcpKeepidle(30)),
        (&t4, Sockopt::TcpKeepintvl(5)),
        (&t4, Sockopt::TcpKeepcnt(4)),
        (&t4, Sockopt::TcpUserTimeoutMs(1500)),
        (&t4, Sockopt::IpTtl(33)),
        (&u4, Sockopt::IpMulticastTtl(4)),
        (&u4, Sockopt::IpMulticastLoop(false)),
        (&t6, Sockopt::Ipv6V6only(true)),
        (&t6, Sockopt::Ipv6UnicastHops(21)),
        (&u6, Sockopt::Ipv6MulticastHops(3)),
        (&u6, Sockopt::Ipv6MulticastLoop(false)),
    ];
    for (sock, value) in cases {
        let name = name_of(&value);
        sock.setsockopt(value)?;
        let back = sock.getsockopt(name)?;
        println!(
            "{name:?}: {}",
            if format!("{back:?}") == format!("{value:?}") {
                "round-trips".to_string()
            } else {
                format!("{back:?} != {value:?}")
            }
        );
    }
    // Off again, where that is a value of its own.
    t4.set_linger(None)?;
    println!("linger-off: {:?}", t4.linger()?);
    t4.set_tcp_quickack(true)?;
    println!("quickack-readable: {}", t4.tcp_quickack().is_ok());
    report("ipv6-option-on-v4", t4.only_v6());
    report("linger-timeout", t4.set_linger(Some(5)));
    report("set-so-error", t4.setsockopt(Sockopt::SoError(None)));
    Ok(())
}

fn name_of(v: &Sockopt) -> SockoptName {
    match v {
        Sockopt::SoReuseaddr(_) => SockoptName::SoReuseaddr,
        Sockopt::SoReuseport(_) => SockoptName::SoReuseport,
        Sockopt::SoKeepalive(_) => SockoptName::SoKeepalive,
        Sockopt::SoBroadcast(_) => SockoptName::SoBroadcast,
        Sockopt::SoLinger(_) => SockoptName::SoLinger,
        Sockopt::SoRcvlowat(_) => SockoptName::SoRcvlowat,
        Sockopt::TcpNodelay(_) => SockoptName::TcpNodelay,
        Sockopt::TcpCork(_) => SockoptName::TcpCork,
        Sockopt::TcpKeepidle(_) => SockoptName::TcpKeepidle,
        Sockopt::TcpKeepintvl(_) => SockoptName::TcpKeepintvl,
        Sockopt::TcpKeepcnt(_) => SockoptName::TcpKeepcnt,
        Sockopt::TcpUserTimeoutMs(_) => SockoptName::TcpUserTimeoutMs,
        Sockopt::IpTtl(_) => SockoptName::IpTtl,
        Sockopt::IpMulticastTtl(_) => SockoptName::IpMulticastTtl,
        Sockopt::IpMulticastLoop(_) => SockoptName::IpMulticastLoop,
        Sockopt::Ipv6V6only(_) => SockoptName::Ipv6V6only,
        Sockopt::Ipv6UnicastHops(_) => SockoptName::Ipv6UnicastHops,
        Sockopt::Ipv6MulticastHops(_) => SockoptName::Ipv6MulticastHops,
        Sockopt::Ipv6MulticastLoop(_) => SockoptName::Ipv6MulticastLoop,
        other => panic!("no name for {other:?}"),
    }
}

/// Joining a multicast group needs a bind rule covering the group.
fn multicast() -> Res {
    let u = Socket::new(AddressFamily::Inet, SocketKind::Dgram, 0)?;
    let r = u.join_multicast_v4(Ipv4Addr::new(239, 255, 0, 1), Ipv4Addr::UNSPECIFIED);
    if let Err(Error::Denied(d)) = &r {
        println!("denied-rule: {}", d.rule);
    }
    let denied = matches!(r, Err(Error::Denied(_)));
    println!("join-denied: {denied}");
    Ok(())
}

/// The netdb functions through the host.
fn netdb() -> Res {
    let any = sockbox::getaddrinfo(
        None,
        Some("80"),
        AddressFamily::Inet,
        Some(SocketKind::Stream),
        0,
        AddrInfoFlags::PASSIVE,
    )?;
    println!("passive: {}", any[0].address);
    report(
        "numerichost-name",
        sockbox::getaddrinfo(
            Some("localhost"),
            None,
            AddressFamily::Inet,
            None,
            0,
            AddrInfoFlags::NUMERICHOST,
        ),
    );
    let canon = sockbox::getaddrinfo(
        Some("localhost"),
        None,
        AddressFamily::Inet,
        Some(SocketKind::Stream),
        0,
        AddrInfoFlags::CANONNAME,
    )?;
    println!("canonname: {}", canon[0].canonname);
    let numeric = sockbox::getnameinfo(
        "127.0.0.1:80".parse()?,
        NameInfoFlags::NUMERICHOST | NameInfoFlags::NUMERICSERV,
    )?;
    println!("getnameinfo-numeric: {numeric:?}");
    let named = sockbox::getnameinfo("127.0.0.1:80".parse()?, NameInfoFlags::empty());
    match &named {
        Ok(n) => println!("getnameinfo: {n:?}"),
        Err(e) => report("getnameinfo", Err::<(), _>(e.clone())),
    }
    println!(
        "gethostname-nonempty: {}",
        !sockbox::gethostname()?.is_empty()
    );
    println!("gethostbyname: {}", sockbox::gethostbyname("localhost")?);
    let ex = sockbox::gethostbyname_ex("localhost")?;
    println!("gethostbyname_ex: {} {:?}", ex.name, ex.addresses);
    match sockbox::gethostbyaddr("127.0.0.1") {
        Ok(e) => println!("gethostbyaddr: {} {:?}", e.name, e.addresses),
        Err(e) => report("gethostbyaddr", Err::<(), _>(e)),
    }
    report("gethostbyaddr-denied", sockbox::gethostbyaddr("10.9.8.7"));
    println!("getfqdn: {}", sockbox::getfqdn("127.0.0.1")?);
    match sockbox::getservbyname("http", Some("tcp")) {
        Ok(p) => println!("getservbyname: {p}"),
        Err(e) => report("getservbyname", Err::<(), _>(e)),
    }
    match sockbox::getservbyport(80, Some("tcp")) {
        Ok(s) => println!("getservbyport: {s}"),
        Err(e) => report("getservbyport", Err::<(), _>(e)),
    }
    report(
        "getservbyname-bad",
        sockbox::getservbyname("no-such-service", None),
    );
    report(
        "getservbyname-proto",
        sockbox::getservbyname("http", Some("sctp")),
    );
    println!(
        "getprotobyname: {} {}",
        sockbox::getprotobyname("tcp")?,
        sockbox::getprotobyname("UDP")?
    );
    report("getprotobyname-bad", sockbox::getprotobyname("nope"));
    let ifs = sockbox::if_nameindex()?;
    let lo = ifs.iter().find(|(_, n)| n == "lo").ok_or("no lo")?;
    println!(
        "if_nametoindex-lo-agrees: {}",
        sockbox::if_nametoindex("lo")? == lo.0
    );
    println!("if_indextoname: {}", sockbox::if_indextoname(lo.0)?);
    report("if_nametoindex-bad", sockbox::if_nametoindex("nope0"));
    report("if_indextoname-bad", sockbox::if_indextoname(999_999));
    Ok(())
}

/// Pure helpers and constants, in wasm.
fn pure() -> Res {
    println!("inet_aton: {:?}", sockbox::inet_aton("127.1")?);
    println!("inet_ntoa: {}", sockbox::inet_ntoa(&[10, 0, 0, 1])?);
    let v6 = sockbox::inet_pton(AddressFamily::Inet6, "::1")?;
    println!("inet_pton6: {}", v6.len());
    println!(
        "inet_ntop6: {}",
        sockbox::inet_ntop(AddressFamily::Inet6, &v6)?
    );
    report(
        "inet_pton-bad",
        sockbox::inet_pton(AddressFamily::Inet, "1.2.3"),
    );
    report(
        "inet_ntop-bad",
        sockbox::inet_ntop(AddressFamily::Inet, &[1, 2]),
    );
    println!(
        "htons: {:#06x} ntohl: {:#010x}",
        sockbox::htons(0x1234),
        sockbox::ntohl(0x0102_0304)
    );
    println!(
        "af: {} {} raw={}",
        AddressFamily::from(AF_INET),
        AddressFamily::from(12345),
        AddressFamily::Inet6.raw()
    );
    println!("kind: {}", SocketKind::from(SocketKind::Dgram.raw()));
    report("msgflags-unknown", MsgFlags::from_raw(0x4000_0000));
    println!(
        "msgflags: {}",
        MsgFlags::from_raw(MSG_PEEK | MSG_WAITALL)?.raw() == MSG_PEEK | MSG_WAITALL
    );
    println!("errno-message: {}", Errno::ConnRefused.message());
    Ok(())
}

/// What socket.py has beyond the basics: default arguments, recvmsg_into, ancillary data on
/// sendmsg/recvmsg, CMSG_LEN/CMSG_SPACE, module-level dup and close, fromfd's timeout, the
/// makefile encoding, the constants.
fn socket_py_extras() -> Res {
    use sockbox::consts::{
        CMSG_LEN, CMSG_SPACE, INADDR_LOOPBACK, NI_MAXHOST, SHUT_RDWR, SOMAXCONN,
    };
    let (a, b) = sockbox::socketpair(None, None, 0)?;
    println!("pair: {:?} {:?}", a.family(), a.kind());
    let l = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    l.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    report("listen-default", l.listen(None));
    println!("listening: {:?}", l.getsockopt(SockoptName::SoAcceptconn)?);
    a.sendall(b"hello world")?;
    let (mut one, mut two) = ([0u8; 5], [0u8; 20]);
    let (n, _, _) = b.recvmsg_into(&mut [&mut one, &mut two], MsgFlags::empty())?;
    println!(
        "recvmsg-into: {n} {:?} {:?}",
        String::from_utf8_lossy(&one),
        String::from_utf8_lossy(&two[..n - 5])
    );
    let passed = Socket::new(AddressFamily::Inet, SocketKind::Dgram, 0)?;
    a.sendmsg_ancillary(
        &[b"with fd"],
        &[sockbox::Ancillary::Rights(&[sockbox::Fd::Socket(&passed)])],
        MsgFlags::empty(),
        None,
    )?;
    let m = b.recvmsg_ancillary(100, CMSG_SPACE(4)?, MsgFlags::empty())?;
    println!(
        "ancillary: {:?} {}",
        String::from_utf8_lossy(&m.data),
        m.fds.len()
    );
    a.sendmsg_ancillary(
        &[b"no room"],
        &[sockbox::Ancillary::Rights(&[sockbox::Fd::Socket(&passed)])],
        MsgFlags::empty(),
        None,
    )?;
    let m = b.recvmsg_ancillary(100, 0, MsgFlags::empty())?;
    println!(
        "no-room: {:?} {} ctrunc={}",
        String::from_utf8_lossy(&m.data),
        m.fds.len(),
        (m.flags & MsgFlags::CTRUNC) == MsgFlags::CTRUNC
    );
    println!("cmsg: {} {} {}", CMSG_LEN(0)?, CMSG_LEN(4)?, CMSG_SPACE(4)?);
    report("cmsg-huge", CMSG_LEN(usize::MAX));
    let fd = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?.detach();
    let copy = sockbox::dup(fd)?;
    println!("dup: {}", copy != fd);
    report("close", sockbox::close(fd));
    report("close-again", sockbox::close(fd));
    report("close-copy", sockbox::close(copy));
    sockbox::setdefaulttimeout(Some(Duration::from_millis(2500)));
    a.settimeout(None);
    let from = sockbox::fromfd(a.fileno())?;
    println!(
        "fromfd-timeout: {:?} {:?}",
        from.gettimeout(),
        a.gettimeout()
    );
    sockbox::setdefaulttimeout(None);
    report(
        "encoding-utf8",
        a.makefile_with("r", None, Some("UTF-8"), None).map(drop),
    );
    report(
        "encoding-latin1",
        a.makefile_with("r", None, Some("latin-1"), None).map(drop),
    );
    report(
        "encoding-binary",
        a.makefile_with("rb", None, Some("utf-8"), None).map(drop),
    );
    println!("consts: {SHUT_RDWR} {SOMAXCONN} {NI_MAXHOST} {INADDR_LOOPBACK:#x}");
    Ok(())
}
