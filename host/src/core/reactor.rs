//! One registration per descriptor with the tokio reactor, shared by every pollable and async
//! wait on it (no duplicate descriptors: a server with 10,000 connections keeps 10,000).
//!
//! tokio's readiness is edge-triggered and cached, so it is a hint: a wake-up is confirmed with
//! a zero-timeout poll(2) and, when stale, cleared before waiting for the next edge. A wait
//! itself costs no system call after the registration (pollables check once as a `poll` call
//! starts: see `poll`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::OnceLock;

use rustix::event::{PollFd, PollFlags, Timespec};
use tokio::io::unix::AsyncFd;

/// A descriptor number owned elsewhere (the registration never closes it).
pub(crate) struct FdRef(RawFd);

impl AsRawFd for FdRef {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// The lazily made registration of one descriptor. Declare it *before* the descriptor's owner
/// in a struct, so it is dropped (deregistered) first.
#[derive(Default)]
pub(crate) struct Reactor(OnceLock<AsyncFd<FdRef>>);

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Reactor(registered)"
        } else {
            "Reactor"
        })
    }
}

impl Reactor {
    /// The registration of `fd`, made on first use in the current tokio runtime.
    ///
    /// # Safety
    /// `fd` must stay open, and be the same descriptor, for as long as this `Reactor` lives.
    unsafe fn get(&self, fd: RawFd) -> io::Result<&AsyncFd<FdRef>> {
        if let Some(r) = self.0.get() {
            return Ok(r);
        }
        let interest = tokio::io::Interest::READABLE.add(tokio::io::Interest::WRITABLE);
        // SAFETY: the caller keeps `fd` open and unchanged while the registration lives.
        let afd = unsafe { AsyncFd::register_with_interest(FdRef(fd), interest) }
            .map_err(|e| e.into_parts().1)?;
        Ok(self.0.get_or_init(|| afd))
    }

    /// Resolves once `fd` is ready for `events` (also on an error or hang-up, which the next
    /// call reports), or at once if it cannot be registered (likewise).
    ///
    /// # Safety
    /// As [`get`](Self::get): `fd` outlives this `Reactor`.
    pub(crate) async unsafe fn ready(&self, fd: BorrowedFd<'_>, events: PollFlags) {
        // SAFETY: passed on from the caller.
        let Ok(afd) = (unsafe { self.get(fd.as_raw_fd()) }) else {
            return;
        };
        let mut interest = None::<tokio::io::Interest>;
        for (flag, i) in [
            (PollFlags::IN, tokio::io::Interest::READABLE),
            (PollFlags::OUT, tokio::io::Interest::WRITABLE),
        ] {
            if events.contains(flag) {
                interest = Some(interest.map_or(i, |x| x.add(i)));
            }
        }
        let Some(interest) = interest else { return };
        loop {
            let Ok(mut guard) = afd.ready(interest).await else {
                return;
            };
            if ready_now(fd, events) {
                return;
            }
            guard.clear_ready();
        }
    }
}

/// Whether `fd` is ready for `events` now (or in error, or hung up).
pub(crate) fn ready_now(fd: BorrowedFd<'_>, events: PollFlags) -> bool {
    let mut fds = [PollFd::new(&fd, events)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match rustix::event::poll(&mut fds, Some(&zero)) {
        Ok(n) => n > 0,
        Err(_) => true,
    }
}
