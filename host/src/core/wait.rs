//! The try/wait/retry core (CPython's `sock_call_ex`) and instance interruption.
//!
//! Every OS socket is non-blocking. An operation is tried; when it would block and the guest's
//! mode allows waiting, it waits until the socket is ready, the deadline passes or the instance
//! is interrupted, then tries again. Each waiting operation is written once, as an `async fn`
//! that waits through a [`Waiter`]; the two hosts differ only in the waiter they pass:
//!
//! - [`Waiter::Sync`] waits in `poll(2)` on the socket and the instance's interrupt eventfd. Its
//!   waits never suspend, so [`run_sync`] completes the operation in one poll of its future:
//!   no runtime, no allocation, no extra system call.
//! - [`Waiter::Async`] awaits the socket's registration with the tokio reactor, so a waiting
//!   guest suspends and the thread serves others.

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec};

use crate::core::error::SocketError;
use crate::core::types::Errno;

/// How a socket waits: socket.py's timeout, as host state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `settimeout(None)`: wait as long as it takes.
    Blocking,
    /// `settimeout(0)`: never wait; fail with `again` (BlockingIOError).
    NonBlocking,
    /// `settimeout(t)`: wait up to `t`, then fail with `timeout`.
    Timeout(Duration),
}

impl Mode {
    /// The mode of a socket.py timeout value.
    pub(crate) fn from_timeout(timeout: Option<Duration>) -> Mode {
        match timeout {
            None => Mode::Blocking,
            Some(t) if t.is_zero() => Mode::NonBlocking,
            Some(t) => Mode::Timeout(t),
        }
    }

    /// The timeout value of a mode (`gettimeout`).
    pub(crate) fn timeout(self) -> Option<Duration> {
        match self {
            Mode::Blocking => None,
            Mode::NonBlocking => Some(Duration::ZERO),
            Mode::Timeout(t) => Some(t),
        }
    }

    /// When a call started now must give up (`None`: never).
    pub(crate) fn deadline(self) -> Deadline {
        match self {
            Mode::Blocking => Deadline::Never,
            Mode::NonBlocking => Deadline::Now,
            Mode::Timeout(t) => Instant::now()
                .checked_add(t)
                .map_or(Deadline::Never, Deadline::At),
        }
    }
}

/// A [`Mode`] shared between a socket and the socket-io objects made from it (socket.py's
/// SocketIO reads with the socket's timeout at the time of the call).
#[derive(Debug)]
pub(crate) struct SharedMode(AtomicU64);

impl SharedMode {
    const BLOCKING: u64 = u64::MAX;

    pub(crate) fn new(mode: Mode) -> Self {
        SharedMode(AtomicU64::new(Self::encode(mode)))
    }

    fn encode(mode: Mode) -> u64 {
        match mode {
            Mode::Blocking => Self::BLOCKING,
            Mode::NonBlocking => 0,
            // Non-zero by construction; kept below the blocking marker.
            Mode::Timeout(t) => u64::try_from(t.as_nanos())
                .unwrap_or(u64::MAX)
                .clamp(1, u64::MAX - 1),
        }
    }

    pub(crate) fn get(&self) -> Mode {
        match self.0.load(Ordering::Relaxed) {
            Self::BLOCKING => Mode::Blocking,
            0 => Mode::NonBlocking,
            ns => Mode::Timeout(Duration::from_nanos(ns)),
        }
    }

    pub(crate) fn set(&self, mode: Mode) {
        self.0.store(Self::encode(mode), Ordering::Relaxed);
    }
}

/// When a waiting call gives up.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Deadline {
    /// Do not wait at all.
    Now,
    /// Wait until this instant, then time out.
    At(Instant),
    /// Wait forever (until interrupted).
    Never,
}

/// What a call waits for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Interest {
    Read,
    Write,
}

impl Interest {
    /// The poll(2) events it waits for.
    pub(crate) fn poll_flags(self) -> PollFlags {
        match self {
            Interest::Read => PollFlags::IN,
            Interest::Write => PollFlags::OUT,
        }
    }
}

/// Wakes every blocked sockbox call of one instance, now and until [`clear`](Self::clear)ed.
///
/// Get it from [`SocketCtx::interrupt_handle`](crate::SocketCtx::interrupt_handle); it is
/// `Send + Sync + Clone`, so another thread (a watchdog, an epoch ticker, a shutdown path) can
/// hold it. After [`interrupt`](Self::interrupt), a call that is blocked, or that would block,
/// fails with errno `canceled` (ECANCELED, "Operation canceled") instead of waiting. Not EINTR:
/// std's I/O helpers and Python (PEP 475) retry EINTR, so the guest would spin.
#[derive(Clone, Debug)]
pub struct InterruptHandle {
    inner: Arc<Interrupt>,
}

#[derive(Debug)]
struct Interrupt {
    set: AtomicBool,
    /// The eventfd's registration with the tokio reactor; dropped before the eventfd.
    reactor: crate::core::reactor::Reactor,
    eventfd: OwnedFd,
    /// Orders `interrupt` against `clear`, so the flag and the eventfd never disagree.
    lock: Mutex<()>,
}

impl InterruptHandle {
    pub(crate) fn new() -> io::Result<Self> {
        let eventfd = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(InterruptHandle {
            inner: Arc::new(Interrupt {
                set: AtomicBool::new(false),
                reactor: crate::core::reactor::Reactor::default(),
                eventfd,
                lock: Mutex::new(()),
            }),
        })
    }

    /// Wakes every blocked call of the instance with `canceled`; later waits fail at once
    /// until [`clear`](Self::clear).
    pub fn interrupt(&self) {
        let _guard = self.inner.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.inner.set.store(true, Ordering::SeqCst);
        // A full counter (EAGAIN) is already readable, which is all a write is for.
        let _ = rustix::io::write(&self.inner.eventfd, &1u64.to_ne_bytes());
    }

    /// Lets calls wait again.
    pub fn clear(&self) {
        let _guard = self.inner.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = [0u8; 8];
        let _ = rustix::io::read(&self.inner.eventfd, &mut buf);
        self.inner.set.store(false, Ordering::SeqCst);
    }

    /// Resolves once the instance is interrupted (for pollables and the async host).
    pub(crate) async fn interrupted(&self) {
        while !self.is_interrupted() {
            // SAFETY: the registration is declared before the eventfd in `Interrupt`: it is
            // dropped first, so the eventfd is open for as long as it lives.
            unsafe {
                self.inner
                    .reactor
                    .ready(self.inner.eventfd.as_fd(), PollFlags::IN)
                    .await;
            }
            if !self.is_interrupted() {
                // Readable but cleared meanwhile: wait for the next interrupt.
                tokio::task::yield_now().await;
            }
        }
    }

    /// The eventfd that is readable while the instance is interrupted.
    pub(crate) fn eventfd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.eventfd.as_fd()
    }

    /// Whether the instance is interrupted.
    pub fn is_interrupted(&self) -> bool {
        self.inner.set.load(Ordering::SeqCst)
    }
}

/// What a call woken by the interrupt fails with.
pub(crate) fn canceled() -> SocketError {
    SocketError::os(
        Errno::Canceled,
        "Operation canceled (the host interrupted this instance)",
    )
}

/// A socket the waits watch: the OS socket, and its registration with the async reactor.
pub(crate) trait Watched {
    /// The OS socket.
    fn socket(&self) -> &socket2::Socket;
    /// Resolves once the socket is ready for `events` (or has an error or hang-up to report).
    fn ready(&self, events: PollFlags) -> impl Future<Output = ()> + Send;
}

/// How a waiting operation waits: the driver a host passes to the core's operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiter {
    /// The synchronous host: block the thread in poll(2) on the socket and the interrupt.
    Sync,
    /// The async host: suspend on the tokio reactor, woken by the socket or the interrupt.
    Async,
}

impl Waiter {
    /// Waits until `sock` is ready for `interest`, the deadline passes (`timeout`), or the
    /// instance is interrupted (`canceled`).
    pub(crate) async fn wait(
        self,
        sock: &impl Watched,
        interest: Interest,
        deadline: Deadline,
        intr: &InterruptHandle,
    ) -> Result<(), SocketError> {
        self.wait_for(sock, interest, PollFlags::empty(), deadline, intr)
            .await
            .map(drop)
    }

    /// [`wait`](Self::wait), also asking for the `extra` events, and returning what was
    /// reported for the socket (the async waiter, woken by the reactor, reports `interest`).
    pub(crate) async fn wait_for(
        self,
        sock: &impl Watched,
        interest: Interest,
        extra: PollFlags,
        deadline: Deadline,
        intr: &InterruptHandle,
    ) -> Result<PollFlags, SocketError> {
        match self {
            Waiter::Sync => poll_wait(sock.socket(), interest, extra, deadline, intr),
            // Boxed: the reactor's futures are large, and inline they would make every
            // operation's future (which the synchronous host also builds, on its stack, for
            // each call) as large; the allocation happens only when the async host waits.
            Waiter::Async => {
                Box::pin(reactor_wait(sock, interest, deadline, intr)).await?;
                Ok(interest.poll_flags())
            }
        }
    }

    /// Runs `op` until it does not fail with EWOULDBLOCK, waiting between tries as `deadline`
    /// allows. EINTR from the OS is retried (CPython's PEP 475 rule).
    pub(crate) async fn call<S: Watched, T>(
        self,
        sock: &S,
        interest: Interest,
        deadline: Deadline,
        intr: &InterruptHandle,
        op: impl FnMut(&socket2::Socket) -> io::Result<T>,
    ) -> Result<T, SocketError> {
        self.call_noting_waits(sock, interest, deadline, intr, &mut false, op)
            .await
    }

    /// [`call`](Self::call), setting `waited` when the operation would have blocked and the
    /// call waited.
    pub(crate) async fn call_noting_waits<S: Watched, T>(
        self,
        sock: &S,
        interest: Interest,
        deadline: Deadline,
        intr: &InterruptHandle,
        waited: &mut bool,
        mut op: impl FnMut(&socket2::Socket) -> io::Result<T>,
    ) -> Result<T, SocketError> {
        loop {
            match op(sock.socket()) {
                Ok(v) => return Ok(v),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    *waited = true;
                    self.wait(sock, interest, deadline, intr).await?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Runs a core operation on the synchronous host: every wait of [`Waiter::Sync`] blocks in
/// poll(2) and never suspends, so the operation completes in the first poll of its future.
pub(crate) fn run_sync<T, E: From<SocketError>>(
    op: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match pin!(op).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(done) => done,
        Poll::Pending => Err(SocketError::trap(wasmtime::format_err!(
            "a synchronous sockbox call tried to suspend"
        ))
        .into()),
    }
}

/// Awaits `interest` on `sock` until `deadline` (a timeout) or the interrupt (canceled).
async fn reactor_wait(
    sock: &impl Watched,
    interest: Interest,
    deadline: Deadline,
    intr: &InterruptHandle,
) -> Result<(), SocketError> {
    if intr.is_interrupted() {
        return Err(canceled());
    }
    let at = match deadline {
        Deadline::Now => return Err(SocketError::errno(Errno::Again)),
        Deadline::Never => None,
        Deadline::At(at) => Some(tokio::time::Instant::from_std(at)),
    };
    let sleep = async {
        match at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = sock.ready(interest.poll_flags()) => Ok(()),
        () = intr.interrupted() => Err(canceled()),
        () = sleep => Err(SocketError::timeout()),
    }
}

/// Waits in poll(2) until `sock` is ready for `interest` (and reports the `extra` events too),
/// the deadline passes (`timeout`), or the instance is interrupted (`canceled`). Blocks the
/// thread: for the synchronous host, and for the few sockets no reactor watches.
pub(crate) fn poll_wait(
    sock: &impl AsFd,
    interest: Interest,
    extra: PollFlags,
    deadline: Deadline,
    intr: &InterruptHandle,
) -> Result<PollFlags, SocketError> {
    let events = interest.poll_flags();
    loop {
        if intr.is_interrupted() {
            return Err(canceled());
        }
        let timeout = match deadline {
            Deadline::Now => return Err(SocketError::errno(Errno::Again)),
            Deadline::Never => None,
            Deadline::At(at) => {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(SocketError::timeout());
                }
                Some(Timespec {
                    tv_sec: left.as_secs() as _,
                    tv_nsec: left.subsec_nanos() as _,
                })
            }
        };
        let mut fds = [
            PollFd::new(sock, events | extra),
            PollFd::new(&intr.inner.eventfd, PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) => {
                // Ready, or an error/hang-up the retried operation will report.
                let revents = fds[0].revents();
                if !revents.is_empty() {
                    return Ok(revents);
                }
                // Otherwise the interrupt fired or the time ran out: the loop top decides.
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}
