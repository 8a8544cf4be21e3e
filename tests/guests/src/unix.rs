//! The guest side of the Unix-domain, fd-passing, sendfile and share tests:
//! `unix NAME ARGS...` runs one case and prints what it saw, one fact per line.

use std::path::Path;
use std::time::Duration;

use sockbox::{AddressFamily, Error, Fd, MsgFlags, SockAddress, Socket, SocketKind};

use sockbox_test_guests::report;

type Res = Result<(), Box<dyn std::error::Error>>;

fn main() -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = &args[1..];
    match args[0].as_str() {
        "stream" => stream(Path::new(&rest[0])),
        "dgram" => dgram(Path::new(&rest[0])),
        "seqpacket" => seqpacket(Path::new(&rest[0])),
        "abstract" => abstract_name(&rest[0]),
        "denied" => denied(Path::new(&rest[0])),
        "pair" => pair(),
        "fds" => fds(Path::new(&rest[0])),
        "shared-reader" => shared_reader(Path::new(&rest[0])),
        "blocking-peer" => blocking_peer(Path::new(&rest[0])),
        "lingering-peer" => lingering_peer(Path::new(&rest[0])),
        "sendfile" => sendfile(rest[0].parse()?, &rest[1], &rest[2]),
        "sendfile-timeout" => sendfile_timeout(rest[0].parse()?, &rest[1]),
        "share" => share(),
        "fromshare" => fromshare(&rest[0]),
        "leave-open" => leave_open(),
        other => Err(format!("unknown case {other}").into()),
    }
}

fn unix(kind: SocketKind) -> Result<Socket, Error> {
    let s = Socket::new(AddressFamily::Unix, kind, 0)?;
    s.settimeout(Some(Duration::from_secs(10)));
    Ok(s)
}

/// Shows a Unix address as socket.py would: the path, `@name` for abstract, `''` unnamed.
fn shape(a: &SockAddress) -> String {
    a.to_string()
}

/// SOCK_STREAM: connect to the native server at DIR/native.sock, then serve one native
/// client on DIR/guest.sock (and a path that is not UTF-8).
fn stream(dir: &Path) -> Res {
    let c = unix(SocketKind::Stream)?;
    c.connect(dir.join("native.sock").as_path())?;
    println!("client-sockname: {}", shape(&c.getsockname()?));
    println!("client-peername: {}", shape(&c.getpeername()?));
    let cred = c.peer_credentials()?;
    println!("peercred-pid: {}", cred.pid);
    c.sendall(b"hello over unix")?;
    println!("echo: {}", String::from_utf8_lossy(&c.recv(64)?));

    let server = unix(SocketKind::Stream)?;
    server.bind(dir.join("guest.sock").as_path())?;
    server.listen(4)?;
    println!("server-sockname: {}", shape(&server.getsockname()?));
    c.sendall(b"ready")?; // the native side connects to guest.sock now
    let (conn, peer) = server.accept()?;
    println!("accepted-peer: {}", shape(&peer));
    println!("accepted-got: {}", String::from_utf8_lossy(&conn.recv(64)?));

    let again = unix(SocketKind::Stream)?;
    report(
        "bind-existing",
        again.bind(dir.join("guest.sock").as_path()),
    );
    let odd = unix(SocketKind::Stream)?;
    let mut raw = dir.as_os_str().as_encoded_bytes().to_vec();
    raw.extend_from_slice(b"/odd-\xff.sock");
    let odd_addr = SockAddress::Unix(sockbox::UnixAddress::Path(raw.clone()));
    odd.bind(odd_addr)?;
    let got = match odd.getsockname()? {
        SockAddress::Unix(sockbox::UnixAddress::Path(p)) => p == raw,
        _ => false,
    };
    println!("non-utf8-path-round-trips: {got}");
    report(
        "nul-in-path",
        unix(SocketKind::Stream)?.bind(SockAddress::Unix(sockbox::UnixAddress::Path(
            b"/tmp/a\0b".to_vec(),
        ))),
    );
    Ok(())
}

/// SOCK_DGRAM: sendto the native socket, recvfrom its answer with the sender's path.
fn dgram(dir: &Path) -> Res {
    let s = unix(SocketKind::Dgram)?;
    s.bind(dir.join("guest.dgram").as_path())?;
    s.sendto(b"datagram", dir.join("native.dgram").as_path())?;
    let (data, from) = s.recvfrom(64)?;
    println!(
        "got: {} from {}",
        String::from_utf8_lossy(&data),
        from.map(|a| shape(&a)).unwrap_or_default()
    );
    Ok(())
}

/// SOCK_SEQPACKET: message boundaries survive.
fn seqpacket(dir: &Path) -> Res {
    let s = unix(SocketKind::Seqpacket)?;
    s.connect(dir.join("native.seq").as_path())?;
    s.send(b"first")?;
    s.send(b"second")?;
    println!("msg: {}", String::from_utf8_lossy(&s.recv(64)?));
    println!("msg: {}", String::from_utf8_lossy(&s.recv(64)?));
    Ok(())
}

/// An abstract name: connect, and the peer name has the abstract shape.
fn abstract_name(name: &str) -> Res {
    let s = unix(SocketKind::Stream)?;
    s.connect(SockAddress::abstract_name(name))?;
    println!("peername: {}", shape(&s.getpeername()?));
    s.sendall(b"abstract")?;
    println!("echo: {}", String::from_utf8_lossy(&s.recv(64)?));
    Ok(())
}

/// Paths outside the rules are refused, `..` included.
fn denied(dir: &Path) -> Res {
    let s = unix(SocketKind::Stream)?;
    let r = s.connect(dir.join("allowed/../outside.sock").as_path());
    if let Err(Error::Denied(d)) = &r {
        println!("denied-rule: {}", d.rule);
    }
    report("escape", r);
    report(
        "symlink",
        unix(SocketKind::Stream)?.connect(dir.join("allowed/link.sock").as_path()),
    );
    report(
        "hardlink",
        unix(SocketKind::Stream)?.connect(dir.join("allowed/hard.sock").as_path()),
    );
    report(
        "abstract",
        unix(SocketKind::Stream)?.connect(SockAddress::abstract_name("nope")),
    );
    // A relative path: the denial speaks of the path as given, not of the host's directory.
    if let Err(Error::Denied(d)) = unix(SocketKind::Stream)?.connect(Path::new("rel/../x.sock")) {
        println!("relative-target: {}", d.target);
        println!("relative-message: {}", d.message);
    }
    // SO_PEERCRED of a socket with no peer process: pid 0, uid and gid -1, as the kernel says.
    let tcp = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    match tcp.peer_credentials() {
        Ok(c) => println!("tcp-peercred: {} {} {}", c.pid, c.uid as i32, c.gid as i32),
        Err(e) => println!("tcp-peercred: err {e}"),
    }
    report(
        "fds-without-rule",
        sockbox::recv_fds(&s, 16, 1, MsgFlags::empty()),
    );
    Ok(())
}

/// socketpair(AF_UNIX) of each kind; SO_PEERCRED is this process.
fn pair() -> Res {
    for kind in [SocketKind::Stream, SocketKind::Dgram, SocketKind::Seqpacket] {
        let (a, b) = sockbox::socketpair(AddressFamily::Unix, kind, 0)?;
        a.send(b"ping")?;
        println!(
            "{kind}: {} {}",
            String::from_utf8_lossy(&b.recv(16)?),
            shape(&a.getsockname()?)
        );
    }
    let (a, _b) = sockbox::socketpair(AddressFamily::Unix, SocketKind::Stream, 0)?;
    println!("pair-peercred-pid: {}", a.peer_credentials()?.pid);
    Ok(())
}

/// Receives a TCP socket from the peer at PATH that a native thread reads too, and reads it
/// to its end with large reads: each reader gets some of the bytes (all 0x5a), and a read the
/// other reader emptied the socket under waits instead of failing.
fn shared_reader(path: &Path) -> Res {
    let s = unix(SocketKind::Stream)?;
    s.connect(path)?;
    let m = sockbox::recv_fds(&s, 16, 1, MsgFlags::empty())?;
    let tcp = m.fds.into_iter().next().ok_or("no socket")?.into_socket()?;
    tcp.settimeout(Some(Duration::from_secs(20)));
    // Ready: the peer starts the sender now, so both readers race from the first byte.
    s.sendall(b"r")?;
    let (mut total, mut foreign) = (0u64, 0u64);
    loop {
        let data = tcp.recv(64 * 1024)?;
        if data.is_empty() {
            break;
        }
        total += data.len() as u64;
        foreign += data.iter().filter(|&&b| b != 0x5a).count() as u64;
    }
    println!("guest-bytes: {total}");
    println!("foreign-bytes: {foreign}");
    Ok(())
}

/// Receives two connected TCP sockets whose peers never read, fills their send queues, and
/// after the native side set SO_LINGER on its copies and closed them, closes one and leaves
/// the other to the instance's teardown: neither close may wait for the linger time.
fn lingering_peer(path: &Path) -> Res {
    let s = unix(SocketKind::Stream)?;
    s.connect(path)?;
    let m = sockbox::recv_fds(&s, 16, 2, MsgFlags::empty())?;
    let mut fds = m.fds.into_iter();
    let a = fds.next().ok_or("no first socket")?.into_socket()?;
    let b = fds.next().ok_or("no second socket")?.into_socket()?;
    let junk = vec![0u8; 64 << 20];
    for sock in [&a, &b] {
        sock.settimeout(Some(Duration::from_millis(300)));
        report("fill", sock.sendall(&junk));
    }
    s.sendall(b"f")?;
    let mut ack = [0u8; 1];
    s.recv_into(&mut ack)?;
    let at = std::time::Instant::now();
    report("close", a.close());
    println!("close-ms: {}", at.elapsed().as_millis());
    // `b` stays open: the instance's teardown closes it.
    std::mem::forget(b);
    Ok(())
}

/// Receives a connected TCP socket from the native peer at PATH, which then clears O_NONBLOCK
/// on its copy (the flag lives in the description both share); reads with a 500 ms timeout
/// must still time out on time, and accept on a received listener must not block either.
fn blocking_peer(path: &Path) -> Res {
    let s = unix(SocketKind::Stream)?;
    s.connect(path)?;
    let m = sockbox::recv_fds(&s, 16, 2, MsgFlags::empty())?;
    let mut fds = m.fds.into_iter();
    let tcp = fds.next().ok_or("no socket")?.into_socket()?;
    let listener = fds.next().ok_or("no listener")?.into_socket()?;
    // Converted: the peer now clears O_NONBLOCK on its copies.
    s.sendall(b"r")?;
    let mut ack = [0u8; 1];
    s.recv_into(&mut ack)?;
    tcp.settimeout(Some(Duration::from_millis(500)));
    let at = std::time::Instant::now();
    report("recv", tcp.recv(10).map(drop));
    println!("recv-ms: {}", at.elapsed().as_millis());
    tcp.setblocking(false);
    report("recv-nonblocking", tcp.recv(10).map(drop));
    report("send-nonblocking", tcp.send(b"x").map(drop));
    listener.settimeout(Some(Duration::from_millis(500)));
    let at = std::time::Instant::now();
    report("accept", listener.accept().map(drop));
    println!("accept-ms: {}", at.elapsed().as_millis());
    s.sendall(b"d")?;
    Ok(())
}

/// Descriptor passing with a native peer at PATH: receive a connected TCP socket and a file,
/// use them, send them back with one of our own files.
fn fds(path: &Path) -> Res {
    let s = unix(SocketKind::Stream)?;
    s.connect(path)?;
    let m = sockbox::recv_fds(&s, 64, 4, MsgFlags::empty())?;
    println!(
        "data: {} fds: {} ctrunc: {}",
        String::from_utf8_lossy(&m.data),
        m.fds.len(),
        (m.flags & MsgFlags::CTRUNC) == MsgFlags::CTRUNC
    );
    let mut fds = m.fds.into_iter();
    let tcp = fds.next().ok_or("no socket")?;
    let file = fds.next().ok_or("no file")?;
    println!("is-socket: {} {}", tcp.is_socket(), file.is_socket());
    let tcp = tcp.into_socket()?;
    println!("passed-socket: family={} kind={}", tcp.family(), tcp.kind());
    tcp.settimeout(Some(Duration::from_secs(10)));
    tcp.sendall(b"through a passed socket")?;
    println!("passed-echo: {}", String::from_utf8_lossy(&tcp.recv(64)?));
    let own = sockbox::fs::open("/data/guest.txt")?;
    let n = sockbox::send_fds(
        &s,
        &[b"back"],
        &[Fd::Socket(&tcp), Fd::Received(&file), Fd::File(&own)],
        MsgFlags::empty(),
        None,
    )?;
    println!("sent-back: {n}");
    let dir = sockbox::fs::open("/data")?;
    report(
        "pass-directory",
        sockbox::send_fds(&s, &[b"dir"], &[Fd::File(&dir)], MsgFlags::empty(), None),
    );
    // The peer now sends three descriptors; we take one: the rest are closed, ctrunc set.
    let m = sockbox::recv_fds(&s, 64, 1, MsgFlags::empty())?;
    println!(
        "truncated: fds={} ctrunc={}",
        m.fds.len(),
        (m.flags & MsgFlags::CTRUNC) == MsgFlags::CTRUNC
    );
    let m = sockbox::recv_fds(&s, 64, 0, MsgFlags::empty())?;
    println!(
        "maxfds-0: fds={} ctrunc={}",
        m.fds.len(),
        (m.flags & MsgFlags::CTRUNC) == MsgFlags::CTRUNC
    );
    let not_sock = m.fds.into_iter().next();
    println!("none-left: {}", not_sock.is_none());
    Ok(())
}

/// sendfile to a native receiver: whole file, a slice, a Read source; then its rules.
fn sendfile(port: u16, file: &str, empty: &str) -> Res {
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.settimeout(Some(Duration::from_secs(10)));
    s.connect(("127.0.0.1", port))?;
    let f = sockbox::fs::open(file)?;
    println!("whole: {}", s.sendfile(&f, 0, None)?);
    println!("slice: {}", s.sendfile(&f, 10, Some(5))?);
    println!("past-end: {}", s.sendfile(&f, 1 << 40, None)?);
    let mut tail: &[u8] = b"tail bytes";
    println!("from-read: {}", s.sendfile_from(&mut tail, None)?);
    let e = sockbox::fs::open(empty)?;
    report("count-zero", s.sendfile(&f, 0, Some(0)));
    s.setblocking(false);
    println!("empty-nonblocking: {}", s.sendfile(&e, 0, None)?);
    s.setblocking(true);
    let dir = sockbox::fs::open("/data")?;
    report("directory", s.sendfile(&dir, 0, None));
    let u = Socket::new(AddressFamily::Inet, SocketKind::Dgram, 0)?;
    report("dgram", u.sendfile(&f, 0, None));
    s.shutdown(std::net::Shutdown::Write)?;
    Ok(())
}

/// sendfile of a file larger than the socket buffers to a peer that never reads: non-blocking,
/// what fits and then `again`; with a timeout, the count of what went, then a timeout once
/// nothing more can go.
fn sendfile_timeout(port: u16, file: &str) -> Res {
    let f = sockbox::fs::open(file)?;
    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.connect(("127.0.0.1", port))?;
    s.setblocking(false);
    let sent = s.sendfile(&f, 0, None)?;
    println!("nonblocking-sent: {sent}");
    report("nonblocking-full", s.sendfile(&f, sent, None));

    let s = Socket::new(AddressFamily::Inet, SocketKind::Stream, 0)?;
    s.connect(("127.0.0.1", port))?;
    s.settimeout(Some(Duration::from_millis(300)));
    let mut offset = s.sendfile(&f, 0, None)?;
    println!("sent: {offset}");
    // Resuming where it stopped sends what room opened up meanwhile, until nothing can go.
    for _ in 0..100 {
        match s.sendfile(&f, offset, None) {
            Ok(n) => offset += n,
            Err(e) => {
                report("then", Err::<(), _>(e));
                break;
            }
        }
    }
    Ok(())
}

/// The supervisor half: accept on the preopened listener and share the connection.
fn share() -> Res {
    let (listener, _) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("none")?;
    let (conn, _) = listener.accept()?;
    let token = conn.share()?;
    println!(
        "token: {}",
        token.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    Ok(())
}

/// The worker half: take the shared connection, answer, and show the token is single use.
fn fromshare(hex: &str) -> Res {
    let token: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<_, _>>()?;
    let conn = sockbox::fromshare(&token)?;
    conn.settimeout(Some(Duration::from_secs(10)));
    let got = conn.recv(64)?;
    conn.sendall(&got.to_ascii_uppercase())?;
    println!("served: {}", String::from_utf8_lossy(&got));
    report("reuse", sockbox::fromshare(&token));
    report("garbage", sockbox::fromshare(b"nope"));
    Ok(())
}

/// Opens one of everything and exits without closing any of it: the host must close it all
/// when the instance goes.
fn leave_open() -> Res {
    let mut keep = Vec::new();
    for (family, kind) in [
        (AddressFamily::Inet, SocketKind::Stream),
        (AddressFamily::Inet6, SocketKind::Dgram),
        (AddressFamily::Unix, SocketKind::Seqpacket),
    ] {
        keep.push(Socket::new(family, kind, 0)?);
    }
    let (a, b) = sockbox::socketpair(AddressFamily::Unix, SocketKind::Stream, 0)?;
    let (c, d) = sockbox::socketpair(AddressFamily::Inet, SocketKind::Stream, 0)?;
    let file = a.makefile("rwb")?;
    a.close()?; // the socket-io keeps it open
    let dup = b.dup()?;
    let detached = c.detach();
    let shared = d.share();
    println!(
        "opened: {} {} {} {}",
        keep.len(),
        dup.fileno() > 0,
        detached > 0,
        shared.is_err()
    );
    std::mem::forget(file);
    std::mem::forget(keep);
    std::mem::forget(dup);
    Ok(())
}
