//! Per-instance state: [`SocketCtx`], its builder, and the [`SocketView`] the bindings reach.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wasmtime::component::ResourceTable;

use crate::bindings::sockbox::socket::types::Errno;
use crate::error::SocketError;
use crate::policy::Policy;
use crate::share::ShareGroup;
use crate::wait::InterruptHandle;

/// The default cap on bytes returned by one read (`recv`, `recvfrom`).
pub const DEFAULT_MAX_READ: usize = 1 << 20;

/// The default cap on sockets one instance may hold at once.
pub const DEFAULT_MAX_SOCKETS: usize = 1024;

/// The default cap on descriptors one `recv-fds` call accepts.
pub const DEFAULT_MAX_FDS_PER_CALL: usize = 16;

/// The sockbox state of one instance: its policy, default timeout, interrupt handle, limits
/// and preopened sockets. Sockets themselves live in the embedder's [`ResourceTable`].
pub struct SocketCtx {
    pub(crate) policy: Policy,
    pub(crate) default_timeout: Option<Duration>,
    pub(crate) interrupt: InterruptHandle,
    pub(crate) max_read: usize,
    pub(crate) max_sockets: usize,
    /// Host descriptors the guest holds now (sockets, also those kept open by a socket-io,
    /// and received descriptors), counted against `max_sockets`.
    pub(crate) open: Arc<AtomicUsize>,
    pub(crate) max_fds_per_call: usize,
    pub(crate) share_group: Option<ShareGroup>,
    pub(crate) preopens: Vec<(String, socket2::Socket)>,
}

impl SocketCtx {
    /// A place for one more host descriptor, or EMFILE past `max_sockets`. The place is given
    /// back when the returned [`Slot`] drops, with the descriptor it was taken for.
    pub(crate) fn slot(&self) -> Result<Slot, SocketError> {
        if self.open.load(Ordering::SeqCst) >= self.max_sockets {
            return Err(SocketError::os(
                Errno::TooManyOpen,
                format!(
                    "Too many open files (this instance may hold {} sockets)",
                    self.max_sockets
                ),
            ));
        }
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok(Slot(Arc::clone(&self.open)))
    }

    /// A builder with the defaults listed on [`SocketCtxBuilder::new`].
    pub fn builder() -> SocketCtxBuilder {
        SocketCtxBuilder::new()
    }

    /// The handle that wakes every blocked call of this instance (see [`InterruptHandle`]).
    pub fn interrupt_handle(&self) -> InterruptHandle {
        self.interrupt.clone()
    }

    /// The instance's policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

/// One host descriptor counted against an instance's limit; dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Builds a [`SocketCtx`].
pub struct SocketCtxBuilder {
    policy: Policy,
    default_timeout: Option<Duration>,
    max_read: usize,
    max_sockets: usize,
    max_fds_per_call: usize,
    share_group: Option<ShareGroup>,
    preopens: Vec<(String, socket2::Socket)>,
}

impl SocketCtxBuilder {
    /// The defaults: a policy that denies everything, no default timeout (new sockets block),
    /// reads capped at [`DEFAULT_MAX_READ`] bytes, at most [`DEFAULT_MAX_SOCKETS`] sockets,
    /// at most [`DEFAULT_MAX_FDS_PER_CALL`] descriptors per recv-fds, no share group, no
    /// preopened sockets.
    pub fn new() -> Self {
        SocketCtxBuilder {
            policy: Policy::deny_all(),
            default_timeout: None,
            max_read: DEFAULT_MAX_READ,
            max_sockets: DEFAULT_MAX_SOCKETS,
            max_fds_per_call: DEFAULT_MAX_FDS_PER_CALL,
            share_group: None,
            preopens: Vec::new(),
        }
    }

    /// The policy that decides what the guest may reach.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The timeout new sockets start with (socket.py's `setdefaulttimeout`).
    pub fn default_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// The most bytes one read returns (at least 1).
    pub fn max_read(mut self, bytes: usize) -> Self {
        self.max_read = bytes.max(1);
        self
    }

    /// The most sockets the guest may hold at once; past it, creating or accepting one fails
    /// with `too-many-open` (EMFILE).
    pub fn max_sockets(mut self, n: usize) -> Self {
        self.max_sockets = n;
        self
    }

    /// The most descriptors one recv-fds call accepts; more are closed and reported with
    /// `ctrunc`.
    pub fn max_fds_per_call(mut self, n: usize) -> Self {
        self.max_fds_per_call = n;
        self
    }

    /// Puts the instance in a share group: its sockets can be handed to other instances of the
    /// same group with `share`/`fromshare`. Without one, `share` fails with `not-supported`.
    pub fn share_group(mut self, group: ShareGroup) -> Self {
        self.share_group = Some(group);
        self
    }

    /// Hands the guest an already bound (and usually listening) socket under `name`; the guest
    /// finds it with `preopens.get-sockets`. The socket is outside the policy: the embedder
    /// chose it. [`build`](Self::build) makes it non-blocking.
    pub fn preopen(mut self, name: impl Into<String>, socket: socket2::Socket) -> Self {
        self.preopens.push((name.into(), socket));
        self
    }

    /// The context.
    ///
    /// # Errors
    /// When the OS refuses the interrupt handle's eventfd (out of descriptors) or making a
    /// preopened socket non-blocking.
    pub fn build(self) -> io::Result<SocketCtx> {
        for (_, s) in &self.preopens {
            // A socket the embedder left blocking would stall the host thread.
            s.set_nonblocking(true)?;
        }
        Ok(SocketCtx {
            policy: self.policy,
            default_timeout: self.default_timeout,
            interrupt: InterruptHandle::new()?,
            max_read: self.max_read,
            max_sockets: self.max_sockets,
            open: Arc::new(AtomicUsize::new(0)),
            max_fds_per_call: self.max_fds_per_call,
            share_group: self.share_group,
            preopens: self.preopens,
        })
    }
}

impl Default for SocketCtxBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// A view of the sockbox state and the resource table, handed to the bindings per call.
pub struct SocketCtxView<'a> {
    /// The instance's sockbox state.
    pub ctx: &'a mut SocketCtx,
    /// The table the guest's sockets live in (usually the one wasi uses too).
    pub table: &'a mut ResourceTable,
}

/// Implemented by store data that holds a [`SocketCtx`] (like wasmtime-wasi's `WasiView`).
pub trait SocketView: Send {
    /// The sockbox state and resource table of this store.
    fn socket_ctx(&mut self) -> SocketCtxView<'_>;
}
