//! The resolver behind a guest's lookups, and how a lookup waits.
//!
//! The host asks a [`Resolver`] only after the policy allowed the lookup. A query of a name
//! (anything that may reach DNS) runs on a thread of its own, and the guest's call waits for
//! its answer like every other sockbox call: the synchronous host in poll(2), the async host
//! suspended on the reactor, both woken by the instance's interrupt (and so by a run's time
//! limit). A resolver that never answers therefore holds a thread of its own and one of the
//! instance's [`max_pending_lookups`](crate::Limits::max_pending_lookups) until it gives up,
//! never the thread that runs guests.

use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex};

use rustix::event::{EventfdFlags, PollFlags};

pub use dns_lookup::{AddrInfo, AddrInfoHints, LookupError};

use crate::core::error::SocketError;
use crate::core::limits::Slot;
use crate::core::reactor::Reactor;
use crate::core::types::GaiCode;
use crate::core::wait::{Deadline, Interest, InterruptHandle, Waiter, canceled, poll_wait};

/// Answers the lookups the policy allowed: `getaddrinfo(3)` and `getnameinfo(3)`, with the C
/// library's flags and error codes. The default is [`SystemResolver`]; an embedder can put
/// its own (a fixed table, DNS over HTTPS, ...) in [`SocketCtxBuilder::resolver`](crate::SocketCtxBuilder::resolver).
///
/// Calls for names may block for as long as they like: each runs on a thread of its own. Calls
/// for numeric hosts (an IP address, `AI_NUMERICHOST`, `NI_NUMERICHOST`) are made on the
/// calling thread and must answer without waiting on the network.
pub trait Resolver: Send + Sync + 'static {
    /// `getaddrinfo(host, service, hints)`: the host is a numeric address or a name as the
    /// policy checked it (normalised: lower case, no trailing dot).
    fn getaddrinfo(
        &self,
        host: Option<&str>,
        service: Option<&str>,
        hints: AddrInfoHints,
    ) -> Result<Vec<AddrInfo>, LookupError>;

    /// `getnameinfo(address, flags)`: the host and service names of `address` (`NI_*` flags).
    fn getnameinfo(&self, address: SocketAddr, flags: i32)
    -> Result<(String, String), LookupError>;
}

/// The C library's resolver (`/etc/hosts`, `resolv.conf`, `nsswitch.conf`), as a program on
/// the host would see it.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn getaddrinfo(
        &self,
        host: Option<&str>,
        service: Option<&str>,
        hints: AddrInfoHints,
    ) -> Result<Vec<AddrInfo>, LookupError> {
        dns_lookup::getaddrinfo(host, service, Some(hints))?
            .map(|a| a.map_err(LookupError::from))
            .collect()
    }

    fn getnameinfo(
        &self,
        address: SocketAddr,
        flags: i32,
    ) -> Result<(String, String), LookupError> {
        dns_lookup::getnameinfo(&address, flags)
    }
}

/// A query running on a thread of its own (see [`spawn`]): its answer, once there, and a way
/// to wait for it.
pub(crate) struct Pending<T> {
    /// The eventfd's registration; declared before `answer`, so dropped (deregistered) before
    /// the eventfd can close.
    reactor: Reactor,
    answer: Arc<Answer<T>>,
}

impl<T> Pending<T> {
    /// The answer, if the query has answered (once: later calls give `None`).
    pub(crate) fn take(&self) -> Option<T> {
        self.answer
            .value
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Whether the query has answered (and the answer was not taken yet).
    pub(crate) fn answered(&self) -> bool {
        self.answer
            .value
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Resolves once the query has answered (on the tokio reactor: pollables, the async host).
    pub(crate) async fn answered_async(&self) {
        while !self.answered() {
            // SAFETY: `reactor` is dropped before `answer`, which keeps the eventfd open.
            unsafe {
                self.reactor
                    .ready(self.answer.done.as_fd(), PollFlags::IN)
                    .await;
            }
        }
    }
}

/// Starts `query` on a thread of its own. The thread holds `slot` until `query` returns, so
/// an abandoned query still counts against the instance's pending lookups.
pub(crate) fn spawn<T: Send + 'static>(
    slot: Slot,
    query: impl FnOnce() -> T + Send + 'static,
) -> Result<Pending<T>, SocketError> {
    let answer = Arc::new(Answer {
        done: rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?,
        value: Mutex::new(None),
    });
    let theirs = Arc::clone(&answer);
    std::thread::Builder::new()
        .name("sockbox-lookup".into())
        .spawn(move || {
            let value = query();
            // Free the slot before answering, so a guest that asks again at once finds it.
            drop(slot);
            *theirs.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
            let _ = rustix::io::write(&theirs.done, &1u64.to_ne_bytes());
        })
        .map_err(|e| {
            SocketError::gai(
                GaiCode::Again,
                format!("Temporary failure in name resolution (no thread for the lookup: {e})"),
            )
        })?;
    Ok(Pending {
        reactor: Reactor::default(),
        answer,
    })
}

/// Runs `query` on a thread of its own (see [`spawn`]) and waits for its answer as `w` waits,
/// woken early by the instance's interrupt (`canceled`).
pub(crate) async fn off_thread<T: Send + 'static>(
    w: Waiter,
    intr: &InterruptHandle,
    slot: Slot,
    query: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SocketError> {
    let pending = spawn(slot, query)?;
    loop {
        if let Some(value) = pending.take() {
            return Ok(value);
        }
        match w {
            Waiter::Sync => {
                poll_wait(
                    &pending.answer.done,
                    Interest::Read,
                    PollFlags::empty(),
                    Deadline::Never,
                    intr,
                )?;
            }
            Waiter::Async => {
                if intr.is_interrupted() {
                    return Err(canceled());
                }
                tokio::select! {
                    () = pending.answered_async() => {}
                    () = intr.interrupted() => return Err(canceled()),
                }
            }
        }
    }
}

/// Where a lookup thread leaves its answer, and the eventfd that says it is there.
struct Answer<T> {
    done: OwnedFd,
    value: Mutex<Option<T>>,
}
