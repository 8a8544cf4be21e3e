//! `Poller` and `select` semantics on real sockets (`tests/tests/poll.rs`).

use std::time::{Duration, Instant};

use sockbox::{AddressFamily as Af, Interest, Poller, SocketKind as Sk, select, socketpair};
use sockbox_test_guests::report;

fn names(v: &[&sockbox::Socket], a: &sockbox::Socket) -> Vec<&'static str> {
    v.iter()
        .map(|s| if s.fileno() == a.fileno() { "a" } else { "b" })
        .collect()
}

fn main() {
    let (a, b) = socketpair(Af::Unix, Sk::Stream, 0).unwrap();
    let zero = Some(Duration::ZERO);

    let (r, w) = select(&[&a, &b], &[], zero).unwrap();
    println!("select idle: {:?} {:?}", names(&r, &a), names(&w, &a));
    let (r, w) = select(&[], &[&a], zero).unwrap();
    println!("select writable: {:?} {:?}", names(&r, &a), names(&w, &a));
    b.send(b"x").unwrap();
    let (r, _) = select(&[&a, &b], &[], None).unwrap();
    println!("select after send: {:?}", names(&r, &a));
    report("select nothing", select(&[], &[], None).map(drop));

    let mut poller = Poller::new();
    poller.register(&a, Interest::READABLE, "a").unwrap();
    report(
        "register twice",
        poller.register(&a, Interest::READABLE, "again"),
    );
    report(
        "register no interest",
        poller.register(&b, Interest::empty(), "b"),
    );
    let got: Vec<_> = poller.select(zero).unwrap();
    println!("poller readable: {got:?}");
    poller
        .modify(&a, Interest::READABLE | Interest::WRITABLE, "a2")
        .unwrap();
    let got: Vec<_> = poller.select(zero).unwrap();
    println!("poller both: {got:?}");
    report("unregister unknown", poller.unregister(&b).map(drop));
    println!("unregister: {:?}", poller.unregister(&a).unwrap());
    println!("empty: {}", poller.is_empty());
    report("select empty", poller.select(None).map(drop));

    // A timeout with nothing ready.
    poller.register(&b, Interest::READABLE, "b").unwrap();
    let start = Instant::now();
    let got = poller.select(Some(Duration::from_millis(100))).unwrap();
    println!(
        "timeout: {} after at least 100 ms: {}",
        got.len(),
        start.elapsed() >= Duration::from_millis(100)
    );

    // Reading the data makes the socket idle again (no stale readiness).
    let mut poller = Poller::new();
    poller.register(&a, Interest::READABLE, "a").unwrap();
    println!("before read: {}", poller.select(zero).unwrap().len());
    a.recv(10).unwrap();
    println!("after read: {}", poller.select(zero).unwrap().len());

    // A registered socket may be dropped: the registration keeps the OS socket, nothing traps.
    let (c, d) = socketpair(Af::Unix, Sk::Stream, 0).unwrap();
    poller.register(&c, Interest::READABLE, "c").unwrap();
    drop(c);
    d.send(b"y").unwrap();
    let got: Vec<_> = poller.select(Some(Duration::from_secs(5))).unwrap();
    println!("dropped but registered: {got:?}");
    println!("done");
}
