//! Unix-domain sockets, descriptor passing, sendfile and share/fromshare, driven from a wasm
//! guest through the real host, with native peers in a temporary directory.

use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::{UnixDatagram, UnixListener};

use sockbox_host::{ShareGroup, SocketCtx};
use sockbox_tests::{
    echo_server, policy, preopen_listener, read_at_start, recv_fds, run_full, run_with, send_fds,
    unix_case, with_policy,
};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// SOCK_STREAM: guest client and guest server with native peers, the address shapes,
/// SO_PEERCRED, EADDRINUSE, a path that is not UTF-8, NUL refused.
fn unix_stream_both_ways() {
    let dir = tempdir();
    let d = dir.path().to_path_buf();
    let listener = UnixListener::bind(d.join("native.sock")).unwrap();
    let guest_sock = d.join("guest.sock");
    let native = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).unwrap();
        c.write_all(&buf[..n]).unwrap();
        let n = c.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ready");
        let mut to_guest = std::os::unix::net::UnixStream::connect(guest_sock).unwrap();
        to_guest.write_all(b"native client").unwrap();
    });
    let p = policy(&[&format!("unix {}/*", d.display())]);
    let out = unix_case(&["stream", d.to_str().unwrap()], with_policy(p));
    native.join().unwrap();
    out.assert_ok();
    assert_eq!(out.line("client-sockname"), "''");
    assert_eq!(
        out.line("client-peername"),
        d.join("native.sock").display().to_string()
    );
    assert_eq!(out.line("peercred-pid"), std::process::id().to_string());
    assert_eq!(out.line("echo"), "hello over unix");
    assert_eq!(
        out.line("server-sockname"),
        d.join("guest.sock").display().to_string()
    );
    assert_eq!(out.line("accepted-peer"), "''");
    assert_eq!(out.line("accepted-got"), "native client");
    assert!(
        out.line("bind-existing")
            .starts_with("err OSError AddrInUse"),
        "{out}"
    );
    assert_eq!(out.line("non-utf8-path-round-trips"), "true");
    assert_eq!(
        out.line("nul-in-path"),
        "err ValueError : embedded null byte"
    );
}

fn unix_dgram_round_trip() {
    let dir = tempdir();
    let d = dir.path().to_path_buf();
    let native = UnixDatagram::bind(d.join("native.dgram")).unwrap();
    let peer = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, from) = native.recv_from(&mut buf).unwrap();
        native
            .send_to(&buf[..n], from.as_pathname().unwrap())
            .unwrap();
    });
    let p = policy(&[&format!("unix {}/*", d.display())]);
    let out = unix_case(&["dgram", d.to_str().unwrap()], with_policy(p));
    peer.join().unwrap();
    out.assert_ok();
    assert_eq!(
        out.line("got"),
        format!("datagram from {}", d.join("native.dgram").display())
    );
}

fn unix_seqpacket_keeps_boundaries() {
    let dir = tempdir();
    let d = dir.path().to_path_buf();
    let path = d.join("native.seq");
    let l = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::SEQPACKET, None).unwrap();
    l.bind(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
    l.listen(1).unwrap();
    let peer = std::thread::spawn(move || {
        let (c, _) = l.accept().unwrap();
        for _ in 0..2 {
            let mut buf = [MaybeUninit::new(0u8); 64];
            let n = c.recv(&mut buf).unwrap();
            let msg: Vec<u8> = buf[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            c.send(&msg).unwrap();
        }
    });
    let p = policy(&[&format!("unix {}", path.display())]);
    let out = unix_case(&["seqpacket", d.to_str().unwrap()], with_policy(p));
    peer.join().unwrap();
    out.assert_ok();
    let msgs: Vec<_> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("msg: "))
        .collect();
    assert_eq!(msgs, ["msg: first", "msg: second"]);
}

fn unix_abstract_names() {
    let name = format!(
        "sockbox-test-{}-{:?}",
        std::process::id(),
        sockbox_tests::current_host()
    );
    let mut raw = vec![0u8];
    raw.extend_from_slice(name.as_bytes());
    let addr =
        socket2::SockAddr::unix(std::ffi::OsStr::new(std::str::from_utf8(&raw).unwrap())).unwrap();
    let l = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    l.bind(&addr).unwrap();
    l.listen(1).unwrap();
    let peer = std::thread::spawn(move || {
        let (c, _) = l.accept().unwrap();
        let mut c = std::os::unix::net::UnixStream::from(OwnedFd::from(c));
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).unwrap();
        c.write_all(&buf[..n]).unwrap();
    });
    let out = unix_case(
        &["abstract", &name],
        with_policy(policy(&["unix @sockbox-test-*"])),
    );
    peer.join().unwrap();
    out.assert_ok();
    assert_eq!(out.line("peername"), format!("@{name}"));
    assert_eq!(out.line("echo"), "abstract");
}

/// Without rules: paths (`..` included), abstract names and fd passing are refused.
fn unix_policy_denials() {
    let dir = tempdir();
    let d = dir.path().canonicalize().unwrap();
    std::fs::create_dir(d.join("allowed")).unwrap();
    // A symlink inside the allowed directory, pointing out of it.
    let outside = UnixListener::bind(d.join("outside-real.sock")).unwrap();
    std::os::unix::fs::symlink(d.join("outside-real.sock"), d.join("allowed/link.sock")).unwrap();
    // And a hard link (what a guest with a writable directory could make).
    std::fs::hard_link(d.join("outside-real.sock"), d.join("allowed/hard.sock")).unwrap();
    let p = policy(&[&format!("unix {}/allowed/*", d.display())]);
    let out = unix_case(&["denied", d.to_str().unwrap()], with_policy(p));
    drop(outside);
    assert!(
        out.line("symlink")
            .starts_with("err PermissionError Access"),
        "a symlink as the last component is refused: {out}"
    );
    assert!(
        out.line("hardlink")
            .starts_with("err PermissionError Access"),
        "a socket with a second name is refused: {out}"
    );
    out.assert_ok();
    assert_eq!(
        out.line("denied-rule"),
        format!("--allow-unix {}/outside.sock", d.display())
    );
    assert!(out.line("abstract").contains("--allow-unix @nope"), "{out}");
    let cwd = std::env::current_dir().unwrap().display().to_string();
    assert_eq!(out.line("relative-target"), "x.sock", "{out}");
    assert!(!out.line("relative-message").contains(&cwd), "{out}");
    assert_eq!(out.line("tcp-peercred"), "0 -1 -1", "{out}");
    assert!(
        out.line("fds-without-rule").contains("--allow-fd-passing"),
        "{out}"
    );
}

fn unix_socketpair_of_each_kind() {
    let out = unix_case(&["pair"], with_policy(policy(&[])));
    out.assert_ok();
    assert_eq!(out.line("SOCK_STREAM"), "ping ''");
    assert_eq!(out.line("SOCK_DGRAM"), "ping ''");
    assert_eq!(out.line("SOCK_SEQPACKET"), "ping ''");
    assert_eq!(
        out.line("pair-peercred-pid"),
        std::process::id().to_string()
    );
}

/// A native peer passes a connected TCP socket and a file to the guest; the guest uses the
/// socket and passes both back with a file of its own; CTRUNC and maxfds 0 close what does not
/// fit.
fn fd_passing_with_a_native_peer() {
    let dir = tempdir();
    let d = dir.path().to_path_buf();
    std::fs::create_dir(d.join("data")).unwrap();
    std::fs::write(d.join("data/guest.txt"), "guest file").unwrap();
    std::fs::write(d.join("native.txt"), "native file").unwrap();
    let echo = echo_server("127.0.0.1:0");
    let listener = UnixListener::bind(d.join("fds.sock")).unwrap();
    let native_file = std::fs::File::open(d.join("native.txt")).unwrap();
    let peer = std::thread::spawn(move || {
        let tcp = TcpStream::connect(echo).unwrap();
        let (c, _) = listener.accept().unwrap();
        send_fds(&c, b"here", &[tcp.as_fd(), native_file.as_fd()]);
        drop(tcp); // the guest's copy keeps the connection
        let (data, mut back) = recv_fds(&c);
        assert_eq!(data, b"back");
        assert_eq!(back.len(), 3);
        let guest_file = back.pop().unwrap();
        let native_again = back.pop().unwrap();
        let mut tcp_again = TcpStream::from(back.pop().unwrap());
        // One open file description: the host made it non-blocking for the guest.
        tcp_again.set_nonblocking(false).unwrap();
        tcp_again.write_all(b"again").unwrap();
        let mut buf = [0u8; 5];
        tcp_again.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"again");
        let files = (read_at_start(native_again), read_at_start(guest_file));
        // Three descriptors where the guest takes one, then two where it takes none.
        send_fds(
            &c,
            b"three",
            &[
                native_file.as_fd(),
                native_file.as_fd(),
                native_file.as_fd(),
            ],
        );
        send_fds(&c, b"two", &[native_file.as_fd(), native_file.as_fd()]);
        files
    });
    let p = policy(&[
        &format!("unix {}", d.join("fds.sock").display()),
        "fd-passing",
    ]);
    let sock = d.join("fds.sock");
    let out = run_full(
        "unix",
        &["fds", sock.to_str().unwrap()],
        with_policy(p).build().unwrap(),
        &[(&d.join("data"), "/data")],
    );
    let (native_text, guest_text) = peer.join().unwrap();
    out.assert_ok();
    assert_eq!(out.line("data"), "here fds: 2 ctrunc: false");
    assert_eq!(out.line("is-socket"), "true false");
    assert_eq!(out.line("passed-socket"), "family=AF_INET kind=SOCK_STREAM");
    assert_eq!(out.line("passed-echo"), "through a passed socket");
    assert_eq!(out.line("sent-back"), "4");
    assert!(
        out.line("pass-directory")
            .starts_with("err PermissionError Permission"),
        "{out}"
    );
    assert_eq!(native_text, "native file");
    assert_eq!(guest_text, "guest file");
    assert_eq!(out.line("truncated"), "fds=1 ctrunc=true");
    assert_eq!(out.line("maxfds-0"), "fds=0 ctrunc=true");
}

/// A TCP socket passed to the guest and read by a native thread at the same time: the guest's
/// large reads (received straight into its memory) race the native reads for the same bytes.
/// Every byte reaches exactly one reader, the guest's are the sender's bytes, and a read whose
/// bytes the other reader took waits rather than failing.
fn large_reads_race_another_reader() {
    const TOTAL: u64 = 64 << 20;
    let dir = tempdir();
    let path = dir.path().join("shared.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let tcp_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut out = TcpStream::connect(tcp_listener.local_addr().unwrap()).unwrap();
    let (go, ready) = std::sync::mpsc::channel::<()>();
    let sender = std::thread::spawn(move || {
        if ready.recv().is_err() {
            return;
        }
        let chunk = vec![0x5au8; 48 * 1024];
        let mut sent = 0u64;
        while sent < TOTAL {
            let n = chunk.len().min((TOTAL - sent) as usize);
            out.write_all(&chunk[..n]).unwrap();
            sent += n as u64;
        }
    });
    let (receiving, _) = tcp_listener.accept().unwrap();
    let native = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        send_fds(&c, b"x", &[receiving.as_fd()]);
        let mut ack = [0u8; 1];
        c.read_exact(&mut ack).unwrap();
        go.send(()).unwrap();
        // The guest's copy makes the shared description non-blocking: wait with poll.
        let mut receiving = receiving;
        let (mut got, mut buf) = (0u64, vec![0u8; 64 * 1024]);
        loop {
            let mut fds = [rustix::event::PollFd::new(
                &receiving,
                rustix::event::PollFlags::IN,
            )];
            rustix::event::poll(&mut fds, None).unwrap();
            match receiving.read(&mut buf) {
                Ok(0) => return got,
                Ok(n) => {
                    assert!(buf[..n].iter().all(|&b| b == 0x5a));
                    got += n as u64;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("native reader: {e}"),
            }
        }
    });
    let p = policy(&[&format!("unix {}", path.display()), "fd-passing"]);
    let out = run_with(
        "unix",
        &["shared-reader", path.to_str().unwrap()],
        with_policy(p).build().unwrap(),
    );
    sender.join().unwrap();
    let native_bytes = native.join().unwrap();
    out.assert_ok();
    let guest_bytes: u64 = out.line("guest-bytes").parse().unwrap();
    assert_eq!(out.line("foreign-bytes"), "0", "{out}");
    assert_eq!(guest_bytes + native_bytes, TOTAL, "{out}");
    assert!(
        guest_bytes > 0 && native_bytes > 0,
        "one reader got nothing: {out}"
    );
}

/// sendfile: whole file, slice, past the end, a Read source; its rules; a directory falls back
/// and fails cleanly.
fn sendfile_to_a_native_receiver() {
    let dir = tempdir();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let big: Vec<u8> = (0..(1 << 20) + 123).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(data.join("big.bin"), &big).unwrap();
    std::fs::write(data.join("empty.bin"), b"").unwrap();
    let receiver = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = receiver.local_addr().unwrap().port();
    let got = std::thread::spawn(move || {
        let (mut c, _) = receiver.accept().unwrap();
        let mut all = Vec::new();
        c.read_to_end(&mut all).unwrap();
        all
    });
    let out = run_full(
        "unix",
        &[
            "sendfile",
            &port.to_string(),
            "/data/big.bin",
            "/data/empty.bin",
        ],
        sockbox_tests::allowing_connect(port).build().unwrap(),
        &[(&data, "/data")],
    );
    let got = got.join().unwrap();
    out.assert_ok();
    assert_eq!(out.line("whole"), big.len().to_string());
    assert_eq!(out.line("slice"), "5");
    assert_eq!(out.line("past-end"), "0");
    assert_eq!(out.line("from-read"), "10");
    let mut expected = big.clone();
    expected.extend_from_slice(&big[10..15]);
    expected.extend_from_slice(b"tail bytes");
    assert!(
        got == expected,
        "received {} bytes, expected {}",
        got.len(),
        expected.len()
    );
    assert_eq!(
        out.line("count-zero"),
        "err ValueError : count must be a positive integer (got 0)"
    );
    assert_eq!(out.line("empty-nonblocking"), "0");
    assert!(out.line("directory").starts_with("err OSError"), "{out}");
    assert_eq!(
        out.line("dgram"),
        "err ValueError : only SOCK_STREAM type sockets are supported"
    );
}

/// share/fromshare: a supervisor instance accepts and shares; a worker instance of the same
/// group serves; tokens are single use and group-bound.
fn share_between_instances() {
    let group = ShareGroup::new();
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let client = std::thread::spawn(move || {
        let mut c = TcpStream::connect(local).unwrap();
        c.write_all(b"hello worker").unwrap();
        let mut reply = [0u8; 12];
        c.read_exact(&mut reply).unwrap();
        c.shutdown(Shutdown::Both).unwrap();
        reply
    });
    let supervisor = SocketCtx::builder()
        .share_group(group.clone())
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let out = run_with("unix", &["share"], supervisor);
    out.assert_ok();
    let token = out.line("token").to_string();
    assert_eq!(group.pending(), 1);

    // Another group cannot use the token.
    let stranger = SocketCtx::builder()
        .share_group(ShareGroup::new())
        .build()
        .unwrap();
    let out = run_with("unix", &["fromshare", &token], stranger);
    assert_ne!(out.code, 0);

    let worker = SocketCtx::builder()
        .share_group(group.clone())
        .build()
        .unwrap();
    let out = run_with("unix", &["fromshare", &token], worker);
    out.assert_ok();
    assert_eq!(out.line("served"), "hello worker");
    assert!(
        out.line("reuse").starts_with("err OSError Invalid"),
        "{out}"
    );
    assert!(
        out.line("garbage").starts_with("err OSError Invalid"),
        "{out}"
    );
    assert_eq!(&client.join().unwrap(), b"HELLO WORKER");
    assert_eq!(group.pending(), 0);

    // Outside any group, share is not supported.
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let _c = TcpStream::connect(local).unwrap();
    let lonely = SocketCtx::builder()
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let out = run_with("unix", &["share"], lonely);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("no share group"), "{out}");
}

/// Tokens expire: the parked socket is closed and the token refused.
fn share_tokens_expire() {
    let group = ShareGroup::with_ttl(std::time::Duration::from_millis(50));
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let _c = TcpStream::connect(local).unwrap();
    let ctx = SocketCtx::builder()
        .share_group(group.clone())
        .preopen(local.to_string(), listener)
        .build()
        .unwrap();
    let out = run_with("unix", &["share"], ctx);
    out.assert_ok();
    let token = out.line("token").to_string();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(group.pending(), 0);
    let worker = SocketCtx::builder().share_group(group).build().unwrap();
    let out = run_with("unix", &["fromshare", &token], worker);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("expired"), "{out}");
}

/// A sendfile that times out after sending part of the file returns how much went (the guest
/// resumes from there); with nothing sent, it raises the timeout. On a non-blocking socket it
/// sends what fits and then raises `again` (os.sendfile's behaviour). Both hosts answer alike.
fn sendfile_timeout_returns_the_count_sent() {
    const SIZE: u64 = 256 << 20;
    let dir = tempdir();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // Sparse: larger than any socket buffer, without writing it.
    std::fs::File::create(data.join("huge.bin"))
        .unwrap()
        .set_len(SIZE)
        .unwrap();
    let peer = sockbox_tests::silent_server("127.0.0.1:0");
    let out = run_full(
        "unix",
        &[
            "sendfile-timeout",
            &peer.port().to_string(),
            "/data/huge.bin",
        ],
        sockbox_tests::allowing_connect(peer.port())
            .build()
            .unwrap(),
        &[(&data, "/data")],
    );
    out.assert_ok();
    let first: u64 = out
        .line("nonblocking-sent")
        .parse()
        .unwrap_or_else(|_| panic!("{out}"));
    assert!(first > 0 && first < SIZE, "sent {first}: {out}");
    assert!(
        out.line("nonblocking-full")
            .starts_with("err BlockingIOError"),
        "{out}"
    );
    let sent: u64 = out.line("sent").parse().unwrap_or_else(|_| panic!("{out}"));
    assert!(sent > 0 && sent < SIZE, "sent {sent}: {out}");
    assert_eq!(out.line("then"), "err TimeoutError : timed out", "{out}");
}

/// A peer that passed a socket clears O_NONBLOCK on its copy (it lives in the open file
/// description both share): the host never relies on the flag, so the guest's recv still
/// times out on time, a non-blocking recv or send does not block, and accept on a passed
/// listener waits only as long as the guest's timeout.
fn peer_clearing_o_nonblock_blocks_nothing() {
    let dir = tempdir();
    let path = dir.path().join("peer.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let tcp_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = TcpStream::connect(tcp_listener.local_addr().unwrap()).unwrap();
    let (passed, _) = tcp_listener.accept().unwrap();
    let idle_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let native = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        send_fds(&c, b"x", &[passed.as_fd(), idle_listener.as_fd()]);
        let mut ack = [0u8; 1];
        c.read_exact(&mut ack).unwrap();
        for fd in [passed.as_fd(), idle_listener.as_fd()] {
            let flags = rustix::fs::fcntl_getfl(fd).unwrap();
            rustix::fs::fcntl_setfl(fd, flags - rustix::fs::OFlags::NONBLOCK).unwrap();
        }
        c.write_all(b"k").unwrap();
        // Unblock a guest the flag did block (so a failing run ends), once it is long late.
        c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let done = c.read_exact(&mut ack).is_ok();
        if !done {
            let mut silent = silent;
            let _ = silent.write_all(b"late");
            let _ = TcpStream::connect(idle_listener.local_addr().unwrap());
        }
        (passed, idle_listener)
    });
    let p = policy(&[&format!("unix {}", path.display()), "fd-passing"]);
    let out = run_with(
        "unix",
        &["blocking-peer", path.to_str().unwrap()],
        with_policy(p).build().unwrap(),
    );
    drop(native.join().unwrap());
    out.assert_ok();
    assert_eq!(out.line("recv"), "err TimeoutError : timed out", "{out}");
    let ms: u64 = out.line("recv-ms").parse().unwrap();
    assert!(
        (450..1500).contains(&ms),
        "recv timed out after {ms} ms: {out}"
    );
    assert!(
        out.line("recv-nonblocking")
            .starts_with("err BlockingIOError Again"),
        "{out}"
    );
    assert_eq!(out.line("send-nonblocking"), "ok", "{out}");
    assert_eq!(out.line("accept"), "err TimeoutError : timed out", "{out}");
    let ms: u64 = out.line("accept-ms").parse().unwrap();
    assert!(
        (450..1500).contains(&ms),
        "accept timed out after {ms} ms: {out}"
    );
}

/// A peer passes TCP sockets with full send queues, then sets SO_LINGER on its copies and
/// closes them, so the host's close is the last: neither the guest's close nor the
/// instance's teardown may wait out the linger time on a thread that serves guests.
fn lingering_peer_blocks_no_close() {
    let dir = tempdir();
    let path = dir.path().join("linger.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let sink = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut held = Vec::new();
    let mut passed = Vec::new();
    for _ in 0..2 {
        let c = TcpStream::connect(sink.local_addr().unwrap()).unwrap();
        let (never_reads, _) = sink.accept().unwrap();
        held.push(never_reads);
        passed.push(c);
    }
    let native = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        send_fds(&c, b"x", &[passed[0].as_fd(), passed[1].as_fd()]);
        let mut ack = [0u8; 1];
        c.read_exact(&mut ack).unwrap();
        for p in passed {
            socket2::SockRef::from(&p)
                .set_linger(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            drop(p);
        }
        c.write_all(b"k").unwrap();
        held
    });
    let p = policy(&[&format!("unix {}", path.display()), "fd-passing"]);
    let start = std::time::Instant::now();
    let out = run_with(
        "unix",
        &["lingering-peer", path.to_str().unwrap()],
        with_policy(p).build().unwrap(),
    );
    let took = start.elapsed();
    drop(native.join().unwrap());
    out.assert_ok();
    assert_eq!(out.line("close"), "ok", "{out}");
    let ms: u64 = out.line("close-ms").parse().unwrap();
    assert!(ms < 1000, "the close took {ms} ms: {out}");
    assert!(
        took < std::time::Duration::from_secs(4),
        "the run (with its teardown) took {took:?}: {out}"
    );
}

sockbox_tests::both_hosts!(
    lingering_peer_blocks_no_close,
    peer_clearing_o_nonblock_blocks_nothing,
    sendfile_timeout_returns_the_count_sent,
    unix_stream_both_ways,
    unix_dgram_round_trip,
    unix_seqpacket_keeps_boundaries,
    unix_abstract_names,
    unix_policy_denials,
    unix_socketpair_of_each_kind,
    fd_passing_with_a_native_peer,
    large_reads_race_another_reader,
    sendfile_to_a_native_receiver,
    share_between_instances,
    share_tokens_expire,
);
