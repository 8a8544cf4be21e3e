//! No guest argument makes the host reserve more than what arrives: reads asking for 64 MiB
//! (the highest `max_read`) of a few bytes or one datagram allocate no large buffer. Measured
//! with a counting global allocator, so this is a test binary of its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sockbox_tests::{component, policy, run_with, with_policy};

/// The system allocator, noting the largest single request while `WATCH` is on.
struct Largest;

static WATCH: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn note(size: usize) {
    if WATCH.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to `System` unchanged; only sizes are noted.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Largest = Largest;

/// recv, recv with MSG_PEEK, recvmsg, recvfrom and recv_fds of 64 MiB, on Unix datagram and
/// stream sockets, each of 0 to 150,000 bytes queued: every read gets what was sent, and no
/// host allocation during the run reaches 4 MiB.
fn huge_reads_reserve_what_arrives() {
    component("cases"); // compile before anything is measured
    let ctx = with_policy(policy(&["fd-passing"]))
        .max_read(sockbox_host::Limits::MAX_READ_CEILING)
        .build()
        .unwrap();
    LARGEST.store(0, Ordering::Relaxed);
    WATCH.store(true, Ordering::Relaxed);
    let out = run_with("cases", &["large-reads"], ctx);
    WATCH.store(false, Ordering::Relaxed);
    out.assert_ok();
    for (label, want) in [
        ("dgram-recv-100", "100"),
        ("dgram-recv-150000", "150000"),
        ("dgram-recv-0", "0"),
        ("dgram-peek", "100"),
        ("dgram-recvmsg", "100"),
        ("dgram-recvfrom", "100"),
        ("dgram-recv-fds", "100"),
        ("stream-peek", "100"),
        ("stream-recvmsg", "100"),
        ("stream-recv-fds", "100"),
        ("stream-recv", "100"),
        ("stream-end", "0"),
    ] {
        assert_eq!(out.line(label), want, "{label}: {out}");
    }
    assert!(
        out.line("dgram-empty").starts_with("err BlockingIOError"),
        "{out}"
    );
    let largest = LARGEST.load(Ordering::Relaxed);
    println!("largest allocation during the run: {largest} bytes");
    assert!(largest < 4 << 20, "an allocation of {largest} bytes");
}

/// The same for a wasi:sockets guest: a TCP stream read, and a UDP receive, asking for
/// `u64::MAX` get what arrived, with no large host allocation.
fn huge_wasi_reads_reserve_what_arrives() {
    component("wasi-sockets");
    let ctx = with_policy(policy(&["bind 127.0.0.1", "connect 127.0.0.1"]))
        .max_read(sockbox_host::Limits::MAX_READ_CEILING)
        .build()
        .unwrap();
    LARGEST.store(0, Ordering::Relaxed);
    WATCH.store(true, Ordering::Relaxed);
    let out = run_with("wasi-sockets", &["huge-reads"], ctx);
    WATCH.store(false, Ordering::Relaxed);
    out.assert_ok();
    assert_eq!(out.line("read none"), "ok 0", "{out}");
    assert_eq!(out.line("read 100"), "ok 100", "{out}");
    assert_eq!(out.line("read 150000"), "150000", "{out}");
    assert_eq!(out.line("skip none"), "ok 0", "{out}");
    assert_eq!(out.line("receive all"), "1 datagrams of [100]", "{out}");
    let largest = LARGEST.load(Ordering::Relaxed);
    println!("largest allocation during the run: {largest} bytes");
    assert!(largest < 4 << 20, "an allocation of {largest} bytes");
}

sockbox_tests::both_hosts!(
    huge_reads_reserve_what_arrives,
    huge_wasi_reads_reserve_what_arrives
);
