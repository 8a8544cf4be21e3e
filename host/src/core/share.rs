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
    /// The sharer's place in its descriptor limit.
    _slot: Slot,
}

impl ShareGroup {
    /// A group whose tokens expire after [`DEFAULT_SHARE_TTL`].
    pub fn new() -> Self {
        Self::with_ttl(DEFAULT_SHARE_TTL)
    }

    /// A group whose tokens expire after `ttl`; an expired socket is closed.
    pub fn with_ttl(ttl: Duration) -> Self {
        ShareGroup {
            pending: Arc::default(),
            ttl,
        }
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

    fn expire(map: &mut HashMap<[u8; 16], Pending>) {
        let now = Instant::now();
        map.retain(|_, p| p.expires.is_none_or(|at| at > now));
    }

    /// Parks a duplicate of a socket and returns its token.
    pub(crate) fn put(
        &self,
        os: socket2::Socket,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
        slot: Slot,
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
                _slot: slot,
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
