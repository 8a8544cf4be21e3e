//! The synchronous host's `wasi:io/poll` waits, served in poll(2) on the calling thread.
//!
//! wasmtime-wasi runs a synchronous `poll` (or `pollable.block`) on its multi-threaded tokio
//! runtime: the calling thread parks, a worker thread sees the socket's edge in epoll and wakes
//! the caller through a futex. Two threads and two context switches per wait, on the path of
//! every `std::net` read that finds nothing queued and every `select` a Python plugin makes.
//!
//! [`block_on`] polls the call's future on the calling thread with a [`WaitSet`] installed. A
//! sockbox pollable that is not ready notes its descriptor (and its instance's interrupt
//! eventfd) in the set instead of registering with a reactor ([`wait_here`]); a sockbox timer
//! notes its deadline ([`sleep_here`]). When every pollable that is not ready did so, the call
//! waits in one ppoll(2) on the set and polls again. When anything else waits too (a file,
//! stdin, wasmtime-wasi's clock: a future that keeps the waker), the call goes on exactly as
//! wasmtime-wasi's, on its runtime, where sockbox's pollables wait on the reactor as they do on
//! the async host.

use std::cell::RefCell;
use std::future::Future;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use rustix::event::PollFlags;

use crate::core::wait::InterruptHandle;

thread_local! {
    /// The wait set of the [`block_on`] running on this thread, while it polls its future.
    static WAIT_SET: RefCell<Option<WaitSet>> = const { RefCell::new(None) };
}

/// What one round of polling found not ready, and what the last wait reported.
#[derive(Default)]
struct WaitSet {
    /// The descriptors the pollables polled in this round wait for.
    next: Vec<libc::pollfd>,
    /// The earliest deadline a timer polled in this round waits for.
    deadline: Option<Instant>,
    /// The last wait's descriptors, with the events poll(2) reported.
    last: Vec<libc::pollfd>,
    /// The waker of the [`block_on`] that owns the set: a future polled with any other (by an
    /// executor or combinator of its own) waits on the reactor instead.
    owner: Option<Waker>,
}

/// The events that make a descriptor waited on for `events` ready: those, or an error or
/// hang-up (which the guest's next call reports).
fn wakes(events: PollFlags) -> libc::c_short {
    (events | PollFlags::ERR | PollFlags::HUP | PollFlags::NVAL).bits() as libc::c_short
}

impl WaitSet {
    /// Whether the last wait reported `fd` ready for `events`.
    fn reported(&self, fd: RawFd, events: PollFlags) -> bool {
        self.last
            .iter()
            .any(|p| p.fd == fd && p.revents & wakes(events) != 0)
    }

    /// Adds `fd` to the next wait, for `events`.
    fn add(&mut self, fd: RawFd, events: PollFlags) {
        let events = events.bits() as libc::c_short;
        match self.next.iter_mut().find(|p| p.fd == fd) {
            Some(p) => p.events |= events,
            None => self.next.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            }),
        }
    }

    /// Whether nothing was noted this round.
    fn is_empty(&self) -> bool {
        self.next.is_empty() && self.deadline.is_none()
    }

    /// Waits until a descriptor noted this round is ready or the deadline passes; the
    /// descriptors become the last wait's.
    fn wait(&mut self) -> std::io::Result<()> {
        let nfds = libc::nfds_t::try_from(self.next.len())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
        let timeout = self.deadline.take().map(|at| {
            let left = at.saturating_duration_since(Instant::now());
            libc::timespec {
                tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: left.subsec_nanos().into(),
            }
        });
        let timeout_ptr = timeout
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `next` is a valid array of `nfds` pollfds and `timeout_ptr` is null or points
        // to a live timespec. Each descriptor belongs to a pollable whose future noted it and is
        // alive (held by the future `block_on` is polling, which is not dropped before this
        // returns); those futures hold the socket or interrupt that owns the descriptor, so it
        // stays open during the call.
        let n = unsafe { libc::ppoll(self.next.as_mut_ptr(), nfds, timeout_ptr, std::ptr::null()) };
        self.last = std::mem::take(&mut self.next);
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
            // A signal: poll again (every future checks its state afresh).
            self.last.clear();
        }
        Ok(())
    }
}

/// Runs `f` on this thread's wait set, if a [`block_on`] is polling here with `cx`'s waker.
fn with_set<T>(cx: &Context<'_>, f: impl FnOnce(&mut WaitSet) -> T) -> Option<T> {
    WAIT_SET.with_borrow_mut(|set| {
        set.as_mut()
            .filter(|set| set.owner.as_ref().is_some_and(|w| w.will_wake(cx.waker())))
            .map(f)
    })
}

/// Waits until `fd` is ready for `events` or `intr` fires, when polled by [`block_on`], and
/// then returns `true`; returns `false` at once anywhere else (the caller then waits on the
/// reactor).
pub(crate) async fn wait_here(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    intr: &InterruptHandle,
) -> bool {
    let fd = fd.as_raw_fd();
    // Whether this future noted `fd` in the round before: only then is the last wait's report
    // about it (a caller that waits again after a short write must not see the old one).
    let mut noted = false;
    std::future::poll_fn(|cx| {
        match with_set(cx, |set| {
            if intr.is_interrupted() || (noted && set.reported(fd, events)) {
                return true;
            }
            set.add(fd, events);
            set.add(intr.eventfd().as_raw_fd(), PollFlags::IN);
            noted = true;
            false
        }) {
            None => Poll::Ready(false),
            Some(true) => Poll::Ready(true),
            Some(false) => Poll::Pending,
        }
    })
    .await
}

/// Waits until `at`, when polled by [`block_on`], and then returns `true`; returns `false` at
/// once anywhere else (the caller then sleeps on the runtime's timer).
pub(crate) async fn sleep_here(at: Instant) -> bool {
    std::future::poll_fn(|cx| {
        match with_set(cx, |set| {
            if Instant::now() >= at {
                return true;
            }
            set.deadline = Some(set.deadline.map_or(at, |d| d.min(at)));
            false
        }) {
            None => Poll::Ready(false),
            Some(true) => Poll::Ready(true),
            Some(false) => Poll::Pending,
        }
    })
    .await
}

/// The waker [`block_on`] polls with: it notes a wake-up, and a future that keeps a clone of
/// it waits on something outside the wait set.
#[derive(Default)]
struct Noted(AtomicBool);

impl Wake for Noted {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Installs a wait set on this thread for as long as it lives, and gives it back (also when
/// a poll panics, so no set outlives its `block_on`).
struct Installed<'a> {
    set: &'a mut WaitSet,
    outer: Option<WaitSet>,
}

impl<'a> Installed<'a> {
    fn new(set: &'a mut WaitSet) -> Self {
        let outer = WAIT_SET.replace(Some(std::mem::take(set)));
        Installed { set, outer }
    }
}

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        *self.set = WAIT_SET.replace(self.outer.take()).unwrap_or_default();
    }
}

/// How many rounds in a row a call may be woken from within (a future that yields) before it
/// goes on on wasmtime-wasi's runtime.
const SELF_WAKES: u32 = 16;

/// Runs a synchronous `wasi:io/poll` call's future to completion on this thread: in ppoll(2)
/// while only sockbox pollables wait, else on wasmtime-wasi's runtime (see the module).
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let noted = Arc::new(Noted::default());
    let waker = Waker::from(noted.clone());
    let mut cx = Context::from_waker(&waker);
    let mut set = WaitSet {
        owner: Some(waker.clone()),
        ..WaitSet::default()
    };
    let mut self_wakes = 0;
    loop {
        let polled = {
            let _installed = Installed::new(&mut set);
            // In wasmtime-wasi's runtime context, so that other pollables' futures (a file's
            // read) can reach it when they are first polled.
            wasmtime_wasi::runtime::with_ambient_tokio_runtime(|| fut.as_mut().poll(&mut cx))
        };
        if let Poll::Ready(out) = polled {
            return out;
        }
        // What the last wait reported was for that round only.
        set.last.clear();
        // `noted`, `waker` and the set's owner hold three references: more means a future
        // kept the waker.
        let kept = Arc::strong_count(&noted) > 3;
        // Pairs with the release of a clone dropped on another thread after waking: its wake
        // is then seen below.
        fence(Ordering::Acquire);
        if kept {
            return wasmtime_wasi::runtime::in_tokio(fut);
        }
        if noted.0.swap(false, Ordering::Relaxed) {
            // A future asked to be polled again (a yield): do so, a few times.
            self_wakes += 1;
            if self_wakes > SELF_WAKES {
                return wasmtime_wasi::runtime::in_tokio(fut);
            }
            set.next.clear();
            set.deadline = None;
            continue;
        }
        self_wakes = 0;
        if set.is_empty() || set.wait().is_err() {
            return wasmtime_wasi::runtime::in_tokio(fut);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::thread;
    use std::time::Duration;

    use super::*;

    const LATER: Duration = Duration::from_millis(50);

    fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        (a, b)
    }

    #[test]
    fn a_socket_is_waited_for_here() {
        let (a, mut b) = pair();
        let intr = InterruptHandle::new().unwrap();
        let writer = thread::spawn(move || {
            thread::sleep(LATER);
            b.write_all(b"x").unwrap();
            b
        });
        let start = Instant::now();
        // `true`: served by the wait set, not by the reactor after a fallback.
        assert!(block_on(wait_here(a.as_fd(), PollFlags::IN, &intr)));
        assert!(start.elapsed() >= LATER);
        writer.join().unwrap();
    }

    #[test]
    fn a_second_wait_does_not_take_the_first_ones_report() {
        let (mut a, mut b) = pair();
        b.write_all(b"x").unwrap();
        let intr = InterruptHandle::new().unwrap();
        let writer = thread::spawn(move || {
            thread::sleep(LATER);
            b.write_all(b"y").unwrap();
            b
        });
        let start = Instant::now();
        let got = block_on(async {
            let mut got = Vec::new();
            for _ in 0..2 {
                // Within one poll of the call, as a stream's `ready` loops after a short write.
                assert!(wait_here(a.as_fd(), PollFlags::IN, &intr).await);
                let mut byte = [0u8; 1];
                std::io::Read::read_exact(&mut a, &mut byte).unwrap();
                got.push(byte[0]);
            }
            got
        });
        assert_eq!(got, b"xy");
        assert!(start.elapsed() >= LATER);
        writer.join().unwrap();
    }

    #[test]
    fn a_future_polled_with_another_waker_waits_elsewhere() {
        let (a, _b) = pair();
        let intr = InterruptHandle::new().unwrap();
        let served = block_on(async {
            let mut inner = std::pin::pin!(wait_here(a.as_fd(), PollFlags::IN, &intr));
            // As an executor or combinator of its own would poll it.
            let other = Waker::from(Arc::new(Noted::default()));
            match inner.as_mut().poll(&mut Context::from_waker(&other)) {
                Poll::Ready(served) => served,
                Poll::Pending => panic!("noted in a set its waker does not wake"),
            }
        });
        assert!(!served);
    }

    #[test]
    fn the_interrupt_wakes_a_wait() {
        let (a, _b) = pair();
        let intr = InterruptHandle::new().unwrap();
        let other = intr.clone();
        let t = thread::spawn(move || {
            thread::sleep(LATER);
            other.interrupt();
        });
        assert!(block_on(wait_here(a.as_fd(), PollFlags::IN, &intr)));
        assert!(intr.is_interrupted());
        t.join().unwrap();
    }

    #[test]
    fn a_timer_and_a_socket_wait_together() {
        let (a, _b) = pair();
        let intr = InterruptHandle::new().unwrap();
        let start = Instant::now();
        let at = start + LATER;
        let (socket, timer) = block_on(async {
            let socket = std::pin::pin!(wait_here(a.as_fd(), PollFlags::IN, &intr));
            let timer = std::pin::pin!(sleep_here(at));
            // Whichever is ready first, as `poll` does.
            let mut socket = Some(socket);
            let mut timer = Some(timer);
            std::future::poll_fn(|cx| {
                if let Some(Poll::Ready(t)) = timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                    return Poll::Ready((socket.take().is_none(), t));
                }
                let _ = socket.as_mut().map(|s| s.as_mut().poll(cx));
                Poll::Pending
            })
            .await
        });
        assert!(!socket);
        assert!(timer);
        assert!(start.elapsed() >= LATER);
    }

    #[test]
    fn a_yield_is_polled_again_here() {
        let (a, mut b) = pair();
        b.write_all(b"x").unwrap();
        let intr = InterruptHandle::new().unwrap();
        let served = block_on(async {
            tokio::task::yield_now().await;
            wait_here(a.as_fd(), PollFlags::IN, &intr).await
        });
        assert!(served);
    }

    #[test]
    fn other_waits_go_on_on_the_runtime() {
        let (a, mut b) = pair();
        b.write_all(b"x").unwrap();
        let intr = InterruptHandle::new().unwrap();
        let start = Instant::now();
        let served = block_on(async {
            tokio::time::sleep(LATER).await;
            wait_here(a.as_fd(), PollFlags::IN, &intr).await
        });
        // The sleep kept the waker: the rest ran on wasmtime-wasi's runtime.
        assert!(!served);
        assert!(start.elapsed() >= LATER);
        // And no wait set is left installed.
        assert!(WAIT_SET.with_borrow(Option::is_none));
    }
}
