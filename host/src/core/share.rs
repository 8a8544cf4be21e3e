//! `share`/`fromshare`: handing a socket from one instance to another of the same host.
//!
//! Windows' `socket.share(pid)`/`fromshare(data)` idea, made useful for plugins: a supervisor
//! instance accepts, and a worker instance serves. A token is single use, expires, and works
//! only between instances the embedder put in the same [`ShareGroup`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::core::error::SocketError;
use crate::core::limits::Slot;
use crate::core::types::{AddressFamily, Errno, SocketKind};

/// How long a token stays good by default.
pub(crate) const DEFAULT_SHARE_TTL: Duration = Duration::from_secs(60);

/// A set of instances that may hand sockets to each other. Clone it into each instance's
/// [`SocketCtxBuilder::share_group`](crate::SocketCtxBuilder::share_group).
#[derive(Clone)]
pub struct ShareGroup {
    pending: Arc<Mutex<HashMap<[u8; 16], Pending>>>,
    ttl: Duration,
}

impl std::fmt::Debug for ShareGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareGroup")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A shared socket waiting for its `fromshare`: a duplicate the group owns.
pub(crate) struct Pending {
    pub(crate) os: socket2::Socket,
    pub(crate) family: AddressFamily,
    pub(crate) kind: SocketKind,
    pub(crate) proto: i32,
    /// `None`: never (a TTL too large for the clock).
    expires: Option<Instant>,
    /// The sharer's places in its descriptor limit and in its parking limit.
    _slots: [Slot; 2],
}

impl ShareGroup {
    /// A group whose tokens expire after 60 seconds.
    pub fn new() -> Self {
        Self::with_ttl(DEFAULT_SHARE_TTL)
    }

    /// A group whose tokens expire after `ttl`; an expired socket is closed on time, by a
    /// thread that lives as long as the group.
    pub fn with_ttl(ttl: Duration) -> Self {
        let group = ShareGroup {
            pending: Arc::default(),
            ttl,
        };
        let map = Arc::downgrade(&group.pending);
        // Checks a few times per TTL, at most every second and at least every 10 ms.
        let period = (ttl / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let _ = std::thread::Builder::new()
            .name("sockbox-share-expiry".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(period);
                    let Some(map) = map.upgrade() else { return };
                    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
                    Self::expire(&mut map);
                }
            });
        group
    }

    /// How many shared sockets wait for their `fromshare` (expired ones are dropped first).
    pub fn pending(&self) -> usize {
        let mut map = self.lock();
        Self::expire(&mut map);
        map.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 16], Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the expired entries, closing their sockets off this thread (their sharer may
    /// have let another process hold them: see `closer`).
    fn expire(map: &mut HashMap<[u8; 16], Pending>) {
        let now = Instant::now();
        let expired: Vec<[u8; 16]> = map
            .iter()
            .filter(|(_, p)| p.expires.is_some_and(|at| at <= now))
            .map(|(k, _)| *k)
            .collect();
        for key in expired {
            if let Some(p) = map.remove(&key) {
                crate::core::closer::close_later(p.os.into());
            }
        }
    }

    /// Parks a duplicate of a socket and returns its token.
    pub(crate) fn put(
        &self,
        os: socket2::Socket,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
        slots: [Slot; 2],
    ) -> Result<[u8; 16], SocketError> {
        let mut token = [0u8; 16];
        rustix::rand::getrandom(&mut token, rustix::rand::GetRandomFlags::empty())?;
        let mut map = self.lock();
        Self::expire(&mut map);
        map.insert(
            token,
            Pending {
                os,
                family,
                kind,
                proto,
                expires: Instant::now().checked_add(self.ttl),
                _slots: slots,
            },
        );
        Ok(token)
    }

    /// Takes the socket of a token, once.
    pub(crate) fn take(&self, token: &[u8]) -> Result<Pending, SocketError> {
        let bad = || {
            SocketError::os(
                Errno::Invalid,
                "Invalid argument (unknown, used or expired share token)",
            )
        };
        let key: [u8; 16] = token.try_into().map_err(|_| bad())?;
        let mut map = self.lock();
        Self::expire(&mut map);
        map.remove(&key).ok_or_else(bad)
    }
}

impl Default for ShareGroup {
    fn default() -> Self {
        Self::new()
    }
}
