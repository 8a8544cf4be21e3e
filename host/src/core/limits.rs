//! The limits of one instance, and the slots that count what it holds against them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The limits of one instance. Exceeding one gives the guest the error the OS would give
/// (EMFILE for sockets), never a trap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Sockets (and received descriptors) the guest may hold at once; past it, creating,
    /// accepting or receiving one fails with `too-many-open` (EMFILE). Default 1024.
    pub max_sockets: usize,
    /// Bytes one read (`recv`, `recvfrom`, `recvmsg`, `recv-fds`) returns at most. Default
    /// 1 MiB.
    pub max_read: usize,
    /// The most a `listen` backlog may be; larger ones are lowered to it, as the kernel lowers
    /// them to `somaxconn`. Default 128 (socket.py's default backlog cap).
    pub max_backlog: u32,
    /// Descriptors one `recv-fds` call accepts; more are closed and reported with `ctrunc`.
    /// Default 16.
    pub max_fds_per_call: usize,
    /// Name lookups (getaddrinfo, getnameinfo and those built on them) the instance may have
    /// in flight; past it a lookup fails with EAI_AGAIN. A lookup the guest stopped waiting for
    /// (interrupted) counts until the resolver returns. Default 4.
    pub max_pending_lookups: usize,
    /// Sockets the instance may have parked in its share group at once (shared and not yet
    /// taken); past it `share` fails with `too-many-open`. Each also counts against
    /// `max_sockets` until it is taken or expires. Default 16.
    pub max_parked: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sockets: 1024,
            max_read: 1 << 20,
            max_backlog: 128,
            max_fds_per_call: 16,
            max_pending_lookups: 4,
            max_parked: 16,
        }
    }
}

impl Limits {
    /// The largest [`max_read`](Self::max_read) a context takes: a read's buffer is reserved
    /// up front, so a larger limit would let one guest call reserve that much.
    pub const MAX_READ_CEILING: usize = 64 << 20;

    /// The largest [`max_fds_per_call`](Self::max_fds_per_call): the kernel's SCM_MAX_FD.
    pub const MAX_FDS_CEILING: usize = 253;

    /// Refuses limits no instance should run with (a read or control buffer a guest could
    /// make huge), naming the limit and its ceiling.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_read > Self::MAX_READ_CEILING {
            return Err(format!(
                "max_read = {} is more than one read may take ({} bytes)",
                self.max_read,
                Self::MAX_READ_CEILING
            ));
        }
        if self.max_fds_per_call > Self::MAX_FDS_CEILING {
            return Err(format!(
                "max_fds_per_call = {} is more than one message can carry ({})",
                self.max_fds_per_call,
                Self::MAX_FDS_CEILING
            ));
        }
        Ok(())
    }

    /// Each limit as `name = value`, as a policy file's `[limits]` table writes it.
    pub fn describe(&self) -> Vec<String> {
        vec![
            format!("max_sockets = {}", self.max_sockets),
            format!("max_read = {}", self.max_read),
            format!("max_backlog = {}", self.max_backlog),
            format!("max_fds_per_call = {}", self.max_fds_per_call),
            format!("max_pending_lookups = {}", self.max_pending_lookups),
            format!("max_parked = {}", self.max_parked),
        ]
    }
}

/// Takes one of `max` places counted by `count`, atomically.
pub(crate) fn take(count: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
    count
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()?;
    Some(Slot(Arc::clone(count)))
}

/// One host descriptor counted against an instance's limit; dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// One more place next to this one, taken whatever the limit says: for a socket that takes
    /// this one's holder's place at once (the count is back when the holder goes).
    pub(crate) fn another(&self) -> Slot {
        self.0.fetch_add(1, Ordering::SeqCst);
        Slot(Arc::clone(&self.0))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
