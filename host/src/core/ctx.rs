//! Per-instance state: [`SocketCtx`], its builder, and the [`SocketView`] the bindings reach.

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use wasmtime::component::ResourceTable;

use crate::core::error::SocketError;
use crate::core::limits::{Limits, Slot, take};
use crate::core::ops::tls::{Credentials, KeyPair, TlsSettings, certificates_from_pem};
use crate::core::policy::{Gate, Policy};
use crate::core::resolver::{Resolver, SystemResolver};
use crate::core::share::ShareGroup;
use crate::core::types::TlsVersion;
use crate::core::types::{Errno, GaiCode};
use crate::core::wait::InterruptHandle;

/// The sockbox state of one instance: its policy, default timeout, interrupt handle, limits
/// and preopened sockets. Sockets themselves live in the embedder's [`ResourceTable`].
pub struct SocketCtx {
    pub(crate) gate: Gate,
    pub(crate) default_timeout: Option<Duration>,
    pub(crate) interrupt: InterruptHandle,
    pub(crate) limits: Limits,
    /// Host descriptors the guest holds now (sockets, also those kept open by a socket-io,
    /// and received descriptors), counted against `max_sockets`.
    pub(crate) open: Arc<AtomicUsize>,
    /// Sockets parked in the share group, counted against `max_parked`.
    pub(crate) parked: Arc<AtomicUsize>,
    /// Lookups in flight, counted against `max_pending_lookups`.
    pub(crate) lookups: Arc<AtomicUsize>,
    /// Who answers the lookups the policy allows.
    pub(crate) resolver: Arc<dyn Resolver>,
    pub(crate) share_group: Option<ShareGroup>,
    pub(crate) preopens: Vec<(String, socket2::Socket)>,
    /// TCP_NODELAY on every `wasi:sockets` connection (connected or accepted).
    pub(crate) wasi_tcp_nodelay: bool,
    /// The embedder's extra trust roots and whether guests may turn verification off.
    tls_extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    tls_system_roots: bool,
    tls_allow_unverified: bool,
    tls_min_version: TlsVersion,
    tls_credentials: Credentials,
    /// The TLS settings, made at the first TLS connection (the root store is not free).
    tls: std::sync::OnceLock<TlsSettings>,
}

impl std::fmt::Debug for SocketCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketCtx")
            .field("default_timeout", &self.default_timeout)
            .field("limits", &self.limits)
            .field("open", &self.open)
            .field("preopens", &self.preopens.len())
            .finish_non_exhaustive()
    }
}

impl SocketCtx {
    /// A place for one more host descriptor, or EMFILE past `max_sockets`. The place is given
    /// back when the returned [`Slot`] drops, with the descriptor it was taken for.
    pub(crate) fn slot(&self) -> Result<Slot, SocketError> {
        let max = self.limits.max_sockets;
        take(&self.open, max).ok_or_else(|| {
            SocketError::os(
                Errno::TooManyOpen,
                format!("Too many open files (this instance may hold {max} sockets)"),
            )
        })
    }

    /// A place for one more lookup in flight, or EAI_AGAIN past `max_pending_lookups`.
    /// A place for one more socket parked in the share group, or EMFILE past `max_parked`.
    pub(crate) fn parked_slot(&self) -> Result<Slot, SocketError> {
        let max = self.limits.max_parked;
        take(&self.parked, max).ok_or_else(|| {
            SocketError::os(
                Errno::TooManyOpen,
                format!(
                    "Too many open files (this instance may have {max} sockets waiting in its share group)"
                ),
            )
        })
    }

    pub(crate) fn lookup_slot(&self) -> Result<Slot, SocketError> {
        let max = self.limits.max_pending_lookups;
        take(&self.lookups, max).ok_or_else(|| {
            SocketError::gai(
                GaiCode::Again,
                format!(
                    "Temporary failure in name resolution (this instance may have {max} lookups pending)"
                ),
            )
        })
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
        self.gate.policy()
    }

    /// The instance's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A handle of its own on the preopened TCP listener a bind to `addr` means: the one bound
    /// to `addr`, or to `addr`'s port when `addr`'s address is the unspecified one of the same
    /// family (a program that binds `0.0.0.0:8080` run with `--listen 127.0.0.1:8080`).
    pub(crate) fn preopened_at(
        &self,
        addr: std::net::SocketAddr,
    ) -> io::Result<Option<socket2::Socket>> {
        for (_, s) in &self.preopens {
            let Some(local) = s.local_addr()?.as_socket() else {
                continue;
            };
            let same_ip = local.ip() == addr.ip()
                || (addr.ip().is_unspecified() && local.is_ipv4() == addr.is_ipv4());
            if local.port() == addr.port()
                && same_ip
                && s.r#type()? == socket2::Type::STREAM
                && rustix::net::sockopt::socket_acceptconn(s)?
            {
                return s.try_clone().map(Some);
            }
        }
        Ok(None)
    }

    /// The TLS settings (trust roots, the verification switch).
    pub(crate) fn tls_settings(&self) -> TlsSettings {
        self.tls
            .get_or_init(|| {
                TlsSettings::new(
                    &self.tls_extra_roots,
                    self.tls_system_roots,
                    self.tls_allow_unverified,
                    self.tls_min_version,
                    Arc::clone(&self.tls_credentials),
                )
            })
            .clone()
    }
}

/// Builds a [`SocketCtx`].
pub struct SocketCtxBuilder {
    policy: Policy,
    default_timeout: Option<Duration>,
    limits: Limits,
    share_group: Option<ShareGroup>,
    preopens: Vec<(String, socket2::Socket)>,
    resolver: Arc<dyn Resolver>,
    wasi_tcp_nodelay: bool,
    tls_extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    tls_system_roots: bool,
    tls_allow_unverified: bool,
    tls_min_version: TlsVersion,
    tls_credentials: std::collections::HashMap<String, Arc<KeyPair>>,
}

impl std::fmt::Debug for SocketCtxBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketCtxBuilder")
            .field("policy", &self.policy)
            .field("default_timeout", &self.default_timeout)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl SocketCtxBuilder {
    /// The defaults: a policy that denies everything, no default timeout (new sockets block),
    /// the default [`Limits`], no share group, no preopened sockets, the C library's resolver.
    pub fn new() -> Self {
        SocketCtxBuilder {
            policy: Policy::deny_all(),
            default_timeout: None,
            limits: Limits::default(),
            share_group: None,
            preopens: Vec::new(),
            resolver: Arc::new(SystemResolver),
            wasi_tcp_nodelay: false,
            tls_extra_roots: Vec::new(),
            tls_system_roots: false,
            tls_allow_unverified: false,
            tls_min_version: TlsVersion::default(),
            tls_credentials: std::collections::HashMap::new(),
        }
    }

    /// Turns TCP_NODELAY on for every `wasi:sockets` TCP connection the guest makes or accepts
    /// (default off, as the OS has it). wasi:sockets has no such option, and Rust std's
    /// `set_nodelay` on `wasm32-wasip2` does nothing: request/response programs written for it
    /// otherwise run with Nagle's algorithm.
    pub fn wasi_tcp_nodelay(mut self, on: bool) -> Self {
        self.wasi_tcp_nodelay = on;
        self
    }

    /// Who answers the lookups the policy allows (default [`SystemResolver`]).
    pub fn resolver(mut self, resolver: impl Resolver) -> Self {
        self.resolver = Arc::new(resolver);
        self
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

    /// All the limits at once (see [`Limits`] for each and its default).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// [`Limits::max_read`] (at least 1).
    pub fn max_read(mut self, bytes: usize) -> Self {
        self.limits.max_read = bytes;
        self
    }

    /// [`Limits::max_sockets`].
    pub fn max_sockets(mut self, n: usize) -> Self {
        self.limits.max_sockets = n;
        self
    }

    /// [`Limits::max_fds_per_call`].
    pub fn max_fds_per_call(mut self, n: usize) -> Self {
        self.limits.max_fds_per_call = n;
        self
    }

    /// [`Limits::max_backlog`].
    pub fn max_backlog(mut self, n: u32) -> Self {
        self.limits.max_backlog = n;
        self
    }

    /// [`Limits::max_pending_lookups`].
    pub fn max_pending_lookups(mut self, n: usize) -> Self {
        self.limits.max_pending_lookups = n;
        self
    }

    /// [`Limits::max_parked`].
    pub fn max_parked(mut self, n: usize) -> Self {
        self.limits.max_parked = n;
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

    /// Trusts the certificates in `pem` (PEM) for TLS connections, besides Mozilla's roots
    /// (webpki-roots): a private CA, say.
    ///
    /// # Errors
    /// `InvalidData` when `pem` holds no certificate or a bad one.
    pub fn tls_roots_pem(mut self, pem: &[u8]) -> io::Result<Self> {
        let certs = certificates_from_pem(pem)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        self.tls_extra_roots.extend(certs);
        Ok(self)
    }

    /// Trusts the system's certificate store too (what `rustls-native-certs` finds: the
    /// distribution's bundle, or `SSL_CERT_FILE`/`SSL_CERT_DIR`), besides Mozilla's roots.
    /// Read when the instance first uses TLS; a store that cannot be read adds nothing (and is
    /// logged).
    pub fn tls_system_roots(mut self, on: bool) -> Self {
        self.tls_system_roots = on;
        self
    }

    /// The oldest TLS version guests may speak, as clients and servers (default 1.2).
    pub fn tls_min_version(mut self, version: TlsVersion) -> Self {
        self.tls_min_version = version;
        self
    }

    /// Whether the guest may make TLS connections without verifying the server's certificate
    /// (`verify-mode.none`, Python's `CERT_NONE`). Off by default: such a call fails with
    /// EACCES.
    pub fn tls_allow_unverified(mut self, allow: bool) -> Self {
        self.tls_allow_unverified = allow;
        self
    }

    /// A TLS credential the guest may serve with, or present as a client certificate, by
    /// `name` (`credential.named`): the
    /// certificate chain (PEM, leaf first) and its private key (PEM), which never enter the
    /// guest.
    ///
    /// # Errors
    /// `InvalidData` for PEM without a certificate or a key.
    pub fn tls_credential(
        mut self,
        name: impl Into<String>,
        chain_pem: &[u8],
        key_pem: &[u8],
    ) -> io::Result<Self> {
        let credential = KeyPair::from_pem(chain_pem, key_pem)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        self.tls_credentials
            .insert(name.into(), Arc::new(credential));
        Ok(self)
    }

    /// The context.
    ///
    /// # Errors
    /// When a limit is past its ceiling ([`Limits::validate`], `InvalidInput`), or the OS
    /// refuses the interrupt handle's eventfd (out of descriptors) or making a preopened
    /// socket non-blocking.
    pub fn build(self) -> io::Result<SocketCtx> {
        self.limits
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        for (_, s) in &self.preopens {
            // A socket the embedder left blocking would stall the host thread.
            s.set_nonblocking(true)?;
        }
        let mut limits = self.limits;
        limits.max_read = limits.max_read.max(1);
        Ok(SocketCtx {
            gate: Gate::new(self.policy),
            default_timeout: self.default_timeout,
            interrupt: InterruptHandle::new()?,
            limits,
            open: Arc::new(AtomicUsize::new(0)),
            lookups: Arc::new(AtomicUsize::new(0)),
            parked: Arc::new(AtomicUsize::new(0)),
            resolver: self.resolver,
            share_group: self.share_group,
            preopens: self.preopens,
            wasi_tcp_nodelay: self.wasi_tcp_nodelay,
            tls_extra_roots: self.tls_extra_roots,
            tls_system_roots: self.tls_system_roots,
            tls_allow_unverified: self.tls_allow_unverified,
            tls_min_version: self.tls_min_version,
            tls_credentials: Arc::new(self.tls_credentials),
            tls: std::sync::OnceLock::new(),
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

impl std::fmt::Debug for SocketCtxView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketCtxView")
            .field("ctx", &self.ctx)
            .finish_non_exhaustive()
    }
}

/// Implemented by store data that holds a [`SocketCtx`] (like wasmtime-wasi's `WasiView`).
pub trait SocketView: Send {
    /// The sockbox state and resource table of this store.
    fn socket_ctx(&mut self) -> SocketCtxView<'_>;
}

impl crate::core::types::Host for SocketCtxView<'_> {
    fn convert_error(&mut self, err: SocketError) -> wasmtime::Result<crate::core::types::Error> {
        err.into_guest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_past_their_ceiling_are_refused() {
        let e = SocketCtx::builder()
            .max_read(usize::MAX)
            .build()
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("max_read"), "{e}");
        assert!(
            SocketCtx::builder()
                .max_read(Limits::MAX_READ_CEILING)
                .build()
                .is_ok()
        );
    }
}
