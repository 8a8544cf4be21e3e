//! The `socket` resource: its state and the operations on it.

use std::io::IoSlice;
use std::mem::ManuallyDrop;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::PollFlags;
use socket2::{MaybeUninitSlice, Protocol, SockAddr};
use wasmtime::component::Resource;

use crate::core::addr::{self, domain, from_os, kind_of, socket_type};
use crate::core::ctx::{SocketCtx, SocketCtxView};
use crate::core::error::SocketError;
use crate::core::limits::Slot;
use crate::core::ops::unix_bind::{BindDir, bound_elsewhere};
use crate::core::policy::{Allowed, Use};
use crate::core::reactor::Reactor;
use crate::core::types::{
    AddressFamily, Errno, Message, MsgFlags, ShutdownHow, SockAddress, SocketKind,
};
use crate::core::wait::{Deadline, Interest, InterruptHandle, Mode, SharedMode, Waiter, Watched};

type Result<T, E = SocketError> = std::result::Result<T, E>;

/// A guest's socket, as kept in the resource table.
pub struct Socket {
    /// The OS socket; `None` once closed. Shared with the socket-io objects made from it,
    /// so the OS socket closes when the last of them lets go (socket.py's `_io_refs`).
    os: Option<Arc<OsSocket>>,
    family: AddressFamily,
    kind: SocketKind,
    proto: i32,
    /// `set_inheritable`'s flag, for the guest only: host descriptors stay close-on-exec.
    inheritable: bool,
    /// The mode when `close` was called: gettimeout still answers it, as in CPython.
    closed_mode: Mode,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("family", &self.family)
            .field("kind", &self.kind)
            .field("proto", &self.proto)
            .field("open", &self.os.is_some())
            .finish_non_exhaustive()
    }
}

/// An open OS socket (non-blocking, close-on-exec) and the guest's mode for it.
pub(crate) struct OsSocket {
    /// Its registration with the tokio reactor (pollables, the async host). Before `os`: it is
    /// dropped, and deregistered, before the socket closes.
    reactor: Reactor,
    /// Taken out only by `Drop`, which closes it where it cannot block the host.
    pub(crate) os: ManuallyDrop<socket2::Socket>,
    mode: SharedMode,
    /// The last recv had to wait, or emptied the socket: the next one polls before it reads,
    /// saving the recv that would fail with EAGAIN (request/response traffic).
    read_waits: AtomicBool,
    /// An IP datagram socket: each received datagram's sender passes the policy (an
    /// unconnected UDP socket hears from anyone).
    filter_senders: bool,
    /// A stream socket: a read of 0 bytes returns at once, with nothing.
    stream: bool,
    /// Another process or instance may hold this socket's open file description (it was
    /// received, preopened, sent with send-fds or shared), so it may read the bytes this host
    /// counted as queued. Shared by the duplicates of one description.
    outside: Arc<AtomicBool>,
    /// A preopened listener the embedder shares (with itself, other instances, or each
    /// handle the guest asks for): the guest may accept on it and nothing that changes it.
    /// Shared by the duplicates of one description.
    accept_only: Arc<AtomicBool>,
    /// Bound to the any-address, port 0, which needs no bind rule (connect would bind so):
    /// `listen` still needs one. Shared by the duplicates of one description.
    bound_as_connect_would: Arc<AtomicBool>,
    /// Its place in the instance's limit, given back when the OS socket closes.
    _slot: Slot,
}

impl Socket {
    /// `socket(family, kind, proto)` with the instance's default timeout.
    pub(crate) fn create(
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
        default_timeout: Option<Duration>,
        slot: Slot,
    ) -> Result<Socket> {
        let dom = domain(family)?;
        let ty = socket_type(kind)?;
        let protocol = (proto != 0).then(|| Protocol::from(proto));
        // socket2 adds SOCK_CLOEXEC on Linux; the guest's blocking mode is host state.
        let os = socket2::Socket::new(dom, ty.nonblocking(), protocol)?;
        // The policy's address rules speak of TCP and UDP: an IP socket of another protocol
        // (MPTCP, UDP-Lite, SCTP) would pass them unasked. The kernel's own answers for
        // protocols it does not have come first (above).
        if matches!(family, AddressFamily::Inet | AddressFamily::Inet6) {
            let effective = os.protocol()?.map(i32::from);
            if !matches!(effective, Some(libc::IPPROTO_TCP | libc::IPPROTO_UDP)) {
                return Err(SocketError::os(
                    Errno::Permission,
                    format!(
                        "Operation not permitted (protocol {} on an IP socket: the policy \
                         speaks of TCP and UDP only)",
                        effective.unwrap_or(proto)
                    ),
                ));
            }
        }
        Ok(Socket::wrap(os, family, kind, proto, default_timeout, slot))
    }

    /// A guest socket for an OS socket only this instance holds (made, accepted or paired
    /// here).
    pub(crate) fn wrap(
        os: socket2::Socket,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
        timeout: Option<Duration>,
        slot: Slot,
    ) -> Socket {
        let outside = Arc::new(AtomicBool::new(false));
        Socket::wrap_shared(os, family, kind, proto, timeout, slot, outside)
    }

    /// A guest handle for a listener the embedder preopened: accept only (see
    /// [`OsSocket::changeable`]).
    pub(crate) fn preopened(
        os: socket2::Socket,
        timeout: Option<Duration>,
        slot: Slot,
    ) -> Result<Socket> {
        let sock = Socket::adopt(os, timeout, slot)?;
        sock.os()?.accept_only.store(true, Ordering::Relaxed);
        Ok(sock)
    }

    /// A guest handle for the embedder's preopened listener `os` that takes this socket's
    /// place in the instance's limit (a `wasi:sockets` bind to a `--listen` address).
    pub(crate) fn preopened_in_place_of(&self, os: socket2::Socket) -> Result<Socket> {
        let slot = self.os()?._slot.another();
        Socket::preopened(os, None, slot)
    }

    fn wrap_shared(
        os: socket2::Socket,
        family: AddressFamily,
        kind: SocketKind,
        proto: i32,
        timeout: Option<Duration>,
        slot: Slot,
        outside: Arc<AtomicBool>,
    ) -> Socket {
        Socket {
            os: Some(Arc::new(OsSocket {
                reactor: Reactor::default(),
                os: ManuallyDrop::new(os),
                mode: SharedMode::new(Mode::from_timeout(timeout)),
                read_waits: AtomicBool::new(false),
                filter_senders: matches!(family, AddressFamily::Inet | AddressFamily::Inet6)
                    && matches!(kind, SocketKind::Dgram),
                stream: matches!(kind, SocketKind::Stream),
                outside,
                accept_only: Arc::new(AtomicBool::new(false)),
                bound_as_connect_would: Arc::new(AtomicBool::new(false)),
                _slot: slot,
            })),
            family,
            kind,
            proto,
            inheritable: false,
            closed_mode: Mode::Blocking,
        }
    }

    /// A guest socket for an OS socket from outside the instance (a preopen, a received
    /// descriptor). Its family, kind and protocol are read from the OS.
    pub(crate) fn adopt(
        os: socket2::Socket,
        timeout: Option<Duration>,
        slot: Slot,
    ) -> Result<Socket> {
        let family = addr::family_of(os.local_addr()?.domain());
        let kind = kind_of(os.r#type()?);
        let proto = os.protocol()?.map_or(0, i32::from);
        let sock = Socket::wrap(os, family, kind, proto, timeout, slot);
        sock.os()?.mark_outside();
        Ok(sock)
    }

    /// The OS socket, shared, or `None` once closed.
    pub(crate) fn os_shared(&self) -> Option<Arc<OsSocket>> {
        self.os.clone()
    }

    /// The OS socket, or EBADF once closed.
    pub(crate) fn os(&self) -> Result<&Arc<OsSocket>> {
        self.os
            .as_ref()
            .ok_or_else(|| SocketError::errno(Errno::BadDescriptor))
    }

    /// The family it was made with.
    pub(crate) fn family(&self) -> AddressFamily {
        self.family
    }

    /// The kind it was made with.
    pub(crate) fn kind(&self) -> SocketKind {
        self.kind
    }

    /// The protocol it was made with.
    pub(crate) fn proto(&self) -> i32 {
        self.proto
    }

    pub(crate) fn set_mode(&mut self, mode: Mode) {
        match &self.os {
            Some(os) => os.mode.set(mode),
            None => self.closed_mode = mode,
        }
    }

    /// The guest's mode: the OS socket's, or what it was when closed.
    fn mode(&self) -> Mode {
        self.os.as_ref().map_or(self.closed_mode, |os| os.mode())
    }

    /// `dup()`: a duplicate OS socket (the same description) with its own copy of the mode.
    pub(crate) fn dup(&self, slot: Slot) -> Result<Socket> {
        let os = self.os()?;
        let dup = Socket::wrap_shared(
            os.os.try_clone()?,
            self.family,
            self.kind,
            self.proto,
            os.mode().timeout(),
            slot,
            Arc::clone(&os.outside),
        );
        if let Some(new) = &dup.os {
            new.accept_only
                .store(os.accept_only.load(Ordering::Relaxed), Ordering::Relaxed);
            new.bound_as_connect_would.store(
                os.bound_as_connect_would.load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
        }
        Ok(dup)
    }
}

/// Reads asking for at least this many bytes go straight into the guest's memory; below it,
/// the copy costs less than the FIONREAD that sizes the read.
const DIRECT_RECV_MIN: usize = 16 * 1024;

/// Why a `bind` failed.
#[derive(Debug)]
pub(crate) enum BindError {
    /// The gate or the OS refused it: nothing changed.
    Refused(SocketError),
    /// The socket was bound outside the directory the gate checked (a directory on the path
    /// was swapped during the call): it is shut down, and the caller must close it.
    Elsewhere(SocketError),
}

impl From<SocketError> for BindError {
    fn from(e: SocketError) -> Self {
        BindError::Refused(e)
    }
}

impl From<std::io::Error> for BindError {
    fn from(e: std::io::Error) -> Self {
        BindError::Refused(e.into())
    }
}

impl From<BindError> for SocketError {
    fn from(e: BindError) -> Self {
        match e {
            BindError::Refused(e) | BindError::Elsewhere(e) => e,
        }
    }
}

/// How a `recv` goes (see [`OsSocket::plan_recv`]).
pub(crate) enum RecvPlan {
    /// Exactly `len` bytes are queued and no one else can read them: receive them into guest
    /// memory of that size.
    Direct { len: usize },
    /// The ordinary path: receive into a host buffer, which the bindings copy to the guest.
    Ordinary,
}

/// How long a poll-first wait must take to count as having waited for data (a poll that finds
/// data queued returns in a few microseconds at most).
const POLL_SLEPT: Duration = Duration::from_micros(5);

impl OsSocket {
    /// Resolves once the socket is ready for `events` (see [`Reactor::ready`]).
    pub(crate) async fn ready(&self, events: PollFlags) {
        // SAFETY: the registration is a field declared before `os`: it is dropped first, so the
        // descriptor is open for as long as it lives.
        unsafe { self.reactor.ready(self.os.as_fd(), events).await }
    }

    /// Resolves once the socket is ready for `events` or `intr` fires: in the synchronous
    /// host's poll(2) when it polls (see `wait_set`), else on the reactor. What pollables over
    /// the socket wait on.
    pub(crate) async fn ready_or_interrupted(&self, events: PollFlags, intr: &InterruptHandle) {
        if crate::core::wait_set::wait_here(self.os.as_fd(), events, intr).await {
            return;
        }
        tokio::select! {
            () = self.ready(events) => {}
            () = intr.interrupted() => {}
        }
    }

    /// Whether the socket is ready for `events` now (one poll(2)).
    pub(crate) fn ready_now(&self, events: PollFlags) -> bool {
        crate::core::reactor::ready_now(self.os.as_fd(), events)
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode.get()
    }

    /// When a call with these flags gives up. As in CPython: a socket with a timeout waits up to
    /// it even with MSG_DONTWAIT (CPython waits for readiness before each try); otherwise
    /// MSG_DONTWAIT never waits.
    pub(crate) fn deadline(&self, flags: MsgFlags) -> Deadline {
        // MSG_OOB does not wait: urgent data raises POLLPRI, not POLLIN, and a blocking OOB
        // read returns at once (EINVAL when there is none).
        match self.mode() {
            _ if flags.contains(MsgFlags::OOB) => Deadline::Now,
            mode @ Mode::Timeout(_) => mode.deadline(),
            _ if flags.contains(MsgFlags::DONTWAIT) => Deadline::Now,
            mode => mode.deadline(),
        }
    }

    /// `bind`, to the address the gate allowed. A Unix path lands in the directory the gate
    /// checked or not at all (see [`unix_bind`](crate::core::ops::unix_bind)): a socket bound
    /// elsewhere is shut down and [`BindError::Elsewhere`] tells the caller to close it.
    pub(crate) fn bind(&self, to: Allowed) -> Result<(), BindError> {
        self.changeable()?;
        let dir = match to.target() {
            Some(addr::Target::Unix(addr::UnixTarget::Path(path)))
                if self.os.domain()? == socket2::Domain::UNIX =>
            {
                BindDir::open(path)?
            }
            _ => None,
        };
        self.os.bind(to.os_address()?).map_err(SocketError::from)?;
        if let Some(addr::Target::Ip(sa)) = to.target()
            && sa.ip().is_unspecified()
            && sa.port() == 0
        {
            self.bound_as_connect_would.store(true, Ordering::Relaxed);
        }
        if let Some(dir) = dir
            && !dir.holds(&*self.os)
        {
            let _ = self.os.shutdown(Shutdown::Both);
            return Err(BindError::Elsewhere(bound_elsewhere()));
        }
        Ok(())
    }

    pub(crate) fn listen(self: &Arc<Self>, ctx: &SocketCtx, backlog: i32) -> Result<()> {
        // A preopened listener listens already: asyncio's create_server(sock=) and
        // socketserver call listen() on the socket they are given. It succeeds and keeps the
        // host's backlog.
        if self.accept_only.load(Ordering::Relaxed) {
            return Ok(());
        }
        // listen() on an unbound socket binds it to the any-address on an ephemeral port:
        // that is a bind, and the bind rules decide it; so do they for a socket bound there
        // without a rule.
        if let Some(local) = self.os.local_addr()?.as_socket() {
            if local.port() == 0 {
                let _ = ctx.gate.check(Use::ImplicitBind(local))?;
            } else if self.bound_as_connect_would.load(Ordering::Relaxed) {
                let any = std::net::SocketAddr::new(local.ip(), 0);
                let _ = ctx.gate.check(Use::ImplicitBind(any))?;
            }
        }
        // As the kernel lowers a backlog to somaxconn, the host lowers it to its limit.
        let max = i32::try_from(ctx.limits.max_backlog).unwrap_or(i32::MAX);
        self.os.listen(backlog.clamp(0, max))?;
        // For `--allow-connect self`: the gate notes the instance's listeners.
        if ctx.gate.policy().connects_to_self()
            && let Some(local) = self.os.local_addr()?.as_socket()
        {
            let alive: std::sync::Weak<Self> = Arc::downgrade(self);
            ctx.gate.note_listener(local, alive);
        }
        Ok(())
    }

    /// `accept`: the next connection the accept rules allow (others are closed unseen).
    pub(crate) async fn accept(
        &self,
        w: Waiter,
        ctx: &SocketCtx,
    ) -> Result<(socket2::Socket, SockAddress)> {
        let deadline = self.mode().deadline();
        loop {
            self.reassert_nonblocking();
            let (conn, peer) = w
                .call(
                    self,
                    Interest::Read,
                    deadline,
                    &ctx.interrupt,
                    socket2::Socket::accept,
                )
                .await?;
            // With accept rules, a peer they do not match is closed here, unseen by the guest.
            if let Some(from) = peer.as_socket()
                && !ctx.gate.allows(Use::AcceptFrom(from))
            {
                continue;
            }
            conn.set_nonblocking(true)?;
            return Ok((conn, from_os(&peer)?));
        }
    }

    /// `connect`: the policy check and connect(2); while the connect is under way, waits for
    /// writability, then gives SO_ERROR (CPython's internal_connect). A connect that timed out
    /// stays under way in the kernel: the next connect, to any address, answers EALREADY (or
    /// EISCONN once it completed), as in CPython.
    pub(crate) async fn connect(&self, w: Waiter, ctx: &SocketCtx, to: Allowed) -> Result<()> {
        self.changeable()?;
        let mode = self.mode();
        self.reassert_nonblocking();
        match self.os.connect(to.os_address()?) {
            Ok(()) => return Ok(()),
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR))
                    && mode != Mode::NonBlocking => {}
            Err(e) => return Err(e.into()),
        }
        w.wait(self, Interest::Write, mode.deadline(), &ctx.interrupt)
            .await?;
        match self.os.take_error()? {
            None => Ok(()),
            Some(e) => Err(e.into()),
        }
    }

    /// `send`: one send(2), waiting until some bytes can go.
    pub(crate) async fn send(
        &self,
        w: Waiter,
        intr: &InterruptHandle,
        data: &[u8],
        flags: MsgFlags,
    ) -> Result<usize> {
        self.send_from(w, intr, &mut &*data, |d| d, flags, false)
            .await
    }

    /// `send` (once) or `sendall` (`all`: until every byte went; since Python 3.5 the timeout
    /// bounds the whole call, not each send) of the bytes `bytes` finds in `cx`. The bytes are
    /// looked up afresh for each try and never held across a wait, so they can be the guest's
    /// own memory (`cx` its store) on either host: zero copies.
    pub(crate) async fn send_from<C: ?Sized>(
        &self,
        w: Waiter,
        intr: &InterruptHandle,
        cx: &mut C,
        bytes: impl Fn(&C) -> &[u8],
        flags: MsgFlags,
        all: bool,
    ) -> Result<usize> {
        let raw = send_flags(flags);
        let deadline = self.deadline(flags);
        // sendall stops at the whole length; send stops after one send(2).
        let len = if all { bytes(cx).len() } else { 0 };
        let mut sent = 0;
        loop {
            // The closure holds the context uniquely (so a store can cross the wait), the
            // bytes only for one send(2).
            let cx = &mut *cx;
            let bytes = &bytes;
            let n = w
                .call(self, Interest::Write, deadline, intr, move |s| {
                    s.send_with_flags(&bytes(&*cx)[sent..], raw)
                })
                .await?;
            sent += n;
            if !all || sent >= len {
                return Ok(sent);
            }
        }
    }

    pub(crate) async fn sendto(
        &self,
        w: Waiter,
        ctx: &SocketCtx,
        data: &[u8],
        flags: MsgFlags,
        to: Allowed,
    ) -> Result<usize> {
        let to = to.os_address()?;
        let raw = send_flags(flags);
        w.call(
            self,
            Interest::Write,
            self.deadline(flags),
            &ctx.interrupt,
            |s| s.send_to_with_flags(data, to, raw),
        )
        .await
    }

    pub(crate) async fn sendmsg(
        &self,
        w: Waiter,
        ctx: &SocketCtx,
        buffers: &[Vec<u8>],
        flags: MsgFlags,
        to: Option<Allowed>,
    ) -> Result<usize> {
        let to = match &to {
            Some(allowed) => Some(allowed.os_address()?),
            None => None,
        };
        let slices: Vec<IoSlice<'_>> = buffers.iter().map(|b| IoSlice::new(b)).collect();
        let raw = send_flags(flags);
        w.call(
            self,
            Interest::Write,
            self.deadline(flags),
            &ctx.interrupt,
            |s| match &to {
                Some(to) => s.send_to_vectored_with_flags(&slices, to, raw),
                None => s.send_vectored_with_flags(&slices, raw),
            },
        )
        .await
    }

    /// `recv`, also the read of a socket-io. With MSG_WAITALL on a blocking socket it goes on
    /// until the buffer is full or the stream ends.
    pub(crate) async fn recv(
        &self,
        w: Waiter,
        ctx: &SocketCtx,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<Vec<u8>> {
        if self.filter_senders {
            return Ok(self.recvmsg(w, ctx, bufsize, flags).await?.data);
        }
        let want = read_size(ctx, bufsize);
        if want == 0 && self.stream {
            // As Linux answers recv(fd, buf, 0) on a stream, whatever is queued (some kernels,
            // gVisor's among them, would wait for data first).
            return Ok(Vec::new());
        }
        let mut buf = Vec::new();
        let raw = recv_flags(flags);
        let deadline = self.deadline(flags);
        // A blocking CPython socket's fd is blocking, so the kernel honours MSG_WAITALL; ours
        // is not, so a blocking socket loops (with a timeout, CPython's fd is non-blocking
        // too and returns what there is). MSG_PEEK would re-read the same bytes: no loop.
        let waitall = waits_for_all(flags, deadline);
        let first_wait = self
            .poll_first(w, ctx, deadline, PollFlags::empty())
            .await?;
        let (poll_first, slept) = first_wait.map_or((false, false), |(_, slept)| (true, slept));
        let mut first = true;
        loop {
            let left = want - buf.len();
            let mut room = 0;
            let mut waited = false;
            let got = w
                .call_noting_waits(
                    self,
                    Interest::Read,
                    deadline,
                    &ctx.interrupt,
                    &mut waited,
                    |s| {
                        room = self.make_room(&mut buf, left, flags)?;
                        s.recv_with_flags(&mut buf.spare_capacity_mut()[..room], raw)
                    },
                )
                .await;
            if first {
                // Keep polling first while polls sleep or reads empty the socket; go back to
                // reading first once a read fills the buffer at once (a backlog), or reads
                // without waiting.
                let n = got.as_ref().map_or(0, |n| *n);
                let hint = if poll_first {
                    slept || n < room
                } else {
                    waited
                };
                self.read_waits.store(hint, Ordering::Relaxed);
                first = false;
            }
            let n = match got {
                Ok(n) => n,
                // Like the kernel: an error after some data returns the data.
                Err(_) if !buf.is_empty() => break,
                Err(e) => return Err(e),
            };
            // With MSG_TRUNC the OS reports a datagram's full length, which may exceed the
            // buffer: keep only what fits.
            let n = n.min(room);
            // SAFETY: recv(2) initialised the `n` bytes after the current length, or (with
            // MSG_TRUNC, which may report bytes it did not write) make_room zeroed them.
            unsafe { buf.set_len(buf.len() + n) };
            if !waitall || n == 0 || buf.len() == want {
                break;
            }
        }
        Ok(buf)
    }

    /// Plans a `recv` for delivery straight into the guest's memory: waits, as `recv` would,
    /// until bytes are queued and says exactly how many to take (FIONREAD). Only a stream
    /// socket no one else can read takes this path, so those bytes are there when the
    /// lowering reads them, and the guest's allocation is exactly the size of what it gets.
    /// Everything else (flags, datagrams, small reads, a socket whose description others hold,
    /// the end of the stream, a pending error, a non-blocking socket with nothing queued)
    /// takes the ordinary path, [`recv`](Self::recv).
    pub(crate) async fn plan_recv(
        &self,
        w: Waiter,
        ctx: &SocketCtx,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<RecvPlan> {
        let want = read_size(ctx, bufsize);
        if !self.stream
            || self.filter_senders
            || self.outside.load(Ordering::Relaxed)
            || want < DIRECT_RECV_MIN
            || (flags & !MsgFlags::DONTWAIT) != MsgFlags::empty()
        {
            return Ok(RecvPlan::Ordinary);
        }
        let deadline = self.deadline(flags);
        // As `recv`, poll first after a read that had to wait.
        if let Some((_, slept)) = self
            .poll_first(w, ctx, deadline, PollFlags::empty())
            .await?
        {
            self.read_waits.store(slept, Ordering::Relaxed);
        }
        let mut waited = false;
        loop {
            // FIONREAD fails on a listening socket: recv gives that its own error.
            match rustix::io::ioctl_fionread(&*self.os) {
                Ok(0) => {}
                Ok(queued) => {
                    let len = usize::try_from(queued).map_or(want, |q| q.min(want));
                    return Ok(RecvPlan::Direct { len });
                }
                Err(_) => return Ok(RecvPlan::Ordinary),
            }
            if waited || matches!(deadline, Deadline::Now) {
                return Ok(RecvPlan::Ordinary);
            }
            w.wait(self, Interest::Read, deadline, &ctx.interrupt)
                .await?;
            self.read_waits.store(true, Ordering::Relaxed);
            waited = true;
        }
    }

    /// After a read that had to wait, waits for the socket to be readable before reading:
    /// where replies trickle in, the socket is empty again and a recv now would only fail
    /// with EAGAIN. `None` when the last read did not wait (or the call must not wait);
    /// otherwise what was reported (asked for `extra` too) and whether it slept (a wait that
    /// returned at once found data queued; one that slept waited for it).
    async fn poll_first(
        &self,
        w: Waiter,
        ctx: &SocketCtx,
        deadline: Deadline,
        extra: PollFlags,
    ) -> Result<Option<(PollFlags, bool)>> {
        if !self.read_waits.load(Ordering::Relaxed) || matches!(deadline, Deadline::Now) {
            return Ok(None);
        }
        let at = Instant::now();
        let revents = w
            .wait_for(self, Interest::Read, extra, deadline, &ctx.interrupt)
            .await?;
        Ok(Some((revents, at.elapsed() >= POLL_SLEPT)))
    }

    /// Receives what is queued into `buf`, without waiting: the second half of a
    /// [`RecvPlan::Direct`].
    pub(crate) fn recv_queued(&self, buf: &mut [u8]) -> rustix::io::Result<usize> {
        recv_now(&self.os, buf)
    }

    /// Whether a datagram from `from` may reach the guest: on an IP datagram socket, only
    /// from senders the policy allows (every read path asks this).
    pub(crate) fn hears_from(&self, ctx: &SocketCtx, from: Option<std::net::SocketAddr>) -> bool {
        match from {
            Some(from) if self.filter_senders => ctx.gate.allows(Use::ReceiveFrom(from)),
            _ => true,
        }
    }

    /// Refuses a call that would change a preopened listener the embedder shares (bind,
    /// connect, shutdown, setsockopt, passing or sharing it): EPERM, saying why. (`listen`
    /// succeeds and changes nothing.)
    pub(crate) fn changeable(&self) -> Result<()> {
        if self.accept_only.load(Ordering::Relaxed) {
            return Err(SocketError::os(
                Errno::Permission,
                "Operation not permitted (a preopened listener is shared with the host: accept only)",
            ));
        }
        Ok(())
    }

    /// Marks the socket's description as held outside the instance (sent or shared).
    pub(crate) fn mark_outside(&self) {
        self.outside.store(true, Ordering::Relaxed);
    }

    /// Before a call with no per-call non-blocking flag (accept, connect, sendfile): sets
    /// O_NONBLOCK again on a description others hold, which they may have cleared. (A peer
    /// that clears it again in the microseconds before the call can still make that one call
    /// block: send and recv pass MSG_DONTWAIT and never depend on it.)
    pub(crate) fn reassert_nonblocking(&self) {
        if self.outside.load(Ordering::Relaxed) {
            let _ = self.os.set_nonblocking(true);
        }
    }

    /// Takes a peeked datagram that the guest may not hear off the queue: a zero-length read
    /// discards a whole datagram.
    pub(crate) fn discard_peeked(&self, flags: MsgFlags) {
        if flags.contains(MsgFlags::PEEK) {
            let _ = self.os.recv_with_flags(&mut [], libc::MSG_DONTWAIT);
        }
    }

    /// Makes room in `buf` (past its length) for the next read of at most `left` bytes, and says
    /// how much. A large read reserves only what is queued: FIONREAD on a stream (or 64 KiB when
    /// it counts nothing: the read then reports the end, an error or EAGAIN), the next datagram's
    /// full length on other sockets (`MSG_PEEK | MSG_TRUNC`, EAGAIN when none is queued). So no
    /// guest argument makes the host reserve more than arrives. With MSG_TRUNC the OS may report
    /// bytes it did not write (a stream discards them; a datagram is cut), so the room is zeroed;
    /// otherwise recv(2) writes all it reports and the room stays uninitialised.
    pub(crate) fn make_room(
        &self,
        buf: &mut Vec<u8>,
        left: usize,
        flags: MsgFlags,
    ) -> std::io::Result<usize> {
        let room = if left <= SIZED_READ_MIN {
            left
        } else if self.stream {
            match rustix::io::ioctl_fionread(&*self.os) {
                Ok(queued) if queued > 0 => usize::try_from(queued).map_or(left, |q| q.min(left)),
                _ => SIZED_READ_MIN,
            }
        } else {
            let next = self.os.recv_with_flags(
                &mut [],
                libc::MSG_PEEK | libc::MSG_TRUNC | libc::MSG_DONTWAIT,
            )?;
            next.min(left)
        };
        buf.reserve_exact(room);
        if flags.contains(MsgFlags::TRUNC) {
            let len = buf.len();
            buf.resize(len + room, 0);
            buf.truncate(len);
        }
        Ok(room)
    }

    pub(crate) async fn recvmsg(
        &self,
        w: Waiter,
        ctx: &SocketCtx,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<Message> {
        let want = read_size(ctx, bufsize);
        let mut buf = Vec::new();
        let mut room = 0;
        let raw = recv_flags(flags);
        let deadline = self.deadline(flags);
        let (n, got_flags, from) = loop {
            let got = w
                .call(self, Interest::Read, deadline, &ctx.interrupt, |s| {
                    room = self.make_room(&mut buf, want, flags)?;
                    let mut slices = [MaybeUninitSlice::new(&mut buf.spare_capacity_mut()[..room])];
                    s.recv_from_vectored_with_flags(&mut slices, raw)
                })
                .await?;
            if self.hears_from(ctx, got.2.as_socket()) {
                break got;
            }
            self.discard_peeked(flags);
        };
        // With MSG_TRUNC the OS reports the datagram's full length: keep only what fits.
        let n = n.min(room);
        // SAFETY: recvmsg(2) initialised the first `n` bytes of the spare capacity, or (with
        // MSG_TRUNC, which may report bytes it did not write) make_room zeroed them.
        unsafe { buf.set_len(n) };
        let mut out_flags = MsgFlags::empty();
        for (on, flag) in [
            (got_flags.is_truncated(), MsgFlags::TRUNC),
            (got_flags.is_end_of_record(), MsgFlags::EOR),
            (got_flags.is_out_of_band(), MsgFlags::OOB),
        ] {
            if on {
                out_flags |= flag;
            }
        }
        Ok(Message {
            data: buf,
            flags: out_flags,
            address: sender(&from)?,
        })
    }

    pub(crate) fn shutdown(&self, how: ShutdownHow) -> Result<()> {
        self.changeable()?;
        let how = match how {
            ShutdownHow::Read => Shutdown::Read,
            ShutdownHow::Write => Shutdown::Write,
            ShutdownHow::Both => Shutdown::Both,
        };
        Ok(self.os.shutdown(how)?)
    }
}

/// The sender of a received message: a connected stream reports no address (length 0), for
/// which socket.py gives None.
fn sender(from: &SockAddr) -> Result<Option<SockAddress>> {
    if from.len() == 0 {
        Ok(None)
    } else {
        Ok(Some(from_os(from)?))
    }
}

/// Reads of up to this many bytes reserve what they ask for; larger ones only what is queued.
const SIZED_READ_MIN: usize = 64 * 1024;

/// `connect_ex`'s answer for a connect's result: the errno, or none on success.
pub(crate) fn connect_ex_result(connected: Result<()>) -> Result<Option<Errno>> {
    match connected {
        Ok(()) => Ok(None),
        Err(e) => match e.as_guest() {
            // CPython's connect_ex gives EWOULDBLOCK when its timeout expires.
            Some(crate::core::types::Error::Timeout) => Ok(Some(Errno::Again)),
            _ => match e.errno_code() {
                Some(code) => Ok(Some(code)),
                None => Err(e),
            },
        },
    }
}

/// Whether a recv with `flags` goes on until its buffer is full: MSG_WAITALL, not a peek, on
/// a blocking socket (CPython's fd is blocking then, so the kernel honours it; ours is not).
pub(crate) fn waits_for_all(flags: MsgFlags, deadline: Deadline) -> bool {
    flags.contains(MsgFlags::WAITALL)
        && !flags.contains(MsgFlags::PEEK)
        && matches!(deadline, Deadline::Never)
}

/// How many bytes one read may return: `min(bufsize, max_read)`.
pub(crate) fn read_size(ctx: &SocketCtx, bufsize: u64) -> usize {
    usize::try_from(bufsize)
        .unwrap_or(usize::MAX)
        .min(ctx.limits.max_read)
}

/// Receives what is queued on `sock` into `buf`, never waiting (MSG_DONTWAIT, see
/// [`recv_flags`]).
pub(crate) fn recv_now(sock: &socket2::Socket, buf: &mut [u8]) -> rustix::io::Result<usize> {
    rustix::net::recv(sock, buf, rustix::net::RecvFlags::DONTWAIT).map(|(n, _)| n)
}

/// Raw receive flags, always with MSG_DONTWAIT: O_NONBLOCK lives in the open file description,
/// which a process that passed the socket (or received it) shares and can clear, so the host
/// never relies on it. The guest's own MSG_DONTWAIT only decides whether the host waits.
pub(crate) fn recv_flags(flags: MsgFlags) -> i32 {
    let mut raw = libc::MSG_DONTWAIT;
    for (flag, bit) in [
        (MsgFlags::OOB, libc::MSG_OOB),
        (MsgFlags::PEEK, libc::MSG_PEEK),
        (MsgFlags::WAITALL, libc::MSG_WAITALL),
        (MsgFlags::TRUNC, libc::MSG_TRUNC),
        (MsgFlags::DONTROUTE, libc::MSG_DONTROUTE),
        (MsgFlags::EOR, libc::MSG_EOR),
        (MsgFlags::CTRUNC, libc::MSG_CTRUNC),
    ] {
        if flags.contains(flag) {
            raw |= bit;
        }
    }
    raw
}

/// Raw send flags, always with MSG_NOSIGNAL: a peer's reset must give the guest EPIPE, not
/// kill the host with SIGPIPE.
pub(crate) fn send_flags(flags: MsgFlags) -> i32 {
    recv_flags(flags) | libc::MSG_NOSIGNAL
}

impl SocketCtxView<'_> {
    /// Puts a new socket in the table (its OS socket already holds a slot of the limit).
    pub(crate) fn push_socket(&mut self, sock: Socket) -> Result<Resource<Socket>> {
        Ok(self.table.push(sock)?)
    }
}

/// The socket calls that may wait, written once for both hosts: the synchronous trait impls
/// run them with [`Waiter::Sync`], the async host awaits them with [`Waiter::Async`].
impl SocketCtxView<'_> {
    /// The OS socket of `s` (shared, so the table stays free while the call waits).
    pub(crate) fn os_of(&self, s: &Resource<Socket>) -> Result<Arc<OsSocket>> {
        Ok(Arc::clone(self.table.get(s)?.os()?))
    }

    pub(crate) async fn accept_with(
        &mut self,
        w: Waiter,
        s: Resource<Socket>,
    ) -> Result<(Resource<Socket>, SockAddress)> {
        // Refuse before accepting, so the connection stays queued rather than dropped.
        let slot = self.ctx.slot()?;
        let os = self.os_of(&s)?;
        let (conn, peer) = os.accept(w, self.ctx).await?;
        let listener = self.table.get(&s)?;
        // socket.py's accept(): the default timeout, or blocking when the listener has a
        // timeout and no default is set (both: the default timeout, which may be None).
        let sock = Socket::wrap(
            conn,
            listener.family,
            listener.kind,
            listener.proto,
            self.ctx.default_timeout,
            slot,
        );
        Ok((self.push_socket(sock)?, peer))
    }

    pub(crate) async fn connect_with(
        &mut self,
        w: Waiter,
        s: Resource<Socket>,
        address: SockAddress,
    ) -> Result<()> {
        let os = self.os_of(&s)?;
        let to = self.ctx.gate.check(Use::Connect(&address))?;
        os.connect(w, self.ctx, to).await
    }

    pub(crate) async fn sendto_with(
        &mut self,
        w: Waiter,
        s: Resource<Socket>,
        data: Vec<u8>,
        flags: MsgFlags,
        address: SockAddress,
    ) -> Result<u64> {
        let os = self.os_of(&s)?;
        let to = self.ctx.gate.check(Use::SendTo(&address))?;
        Ok(os.sendto(w, self.ctx, &data, flags, to).await? as u64)
    }

    pub(crate) async fn recv_with(
        &mut self,
        w: Waiter,
        s: Resource<Socket>,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<Vec<u8>> {
        let os = self.os_of(&s)?;
        os.recv(w, self.ctx, bufsize, flags).await
    }

    pub(crate) async fn sendmsg_with(
        &mut self,
        w: Waiter,
        s: Resource<Socket>,
        buffers: Vec<Vec<u8>>,
        flags: MsgFlags,
        address: Option<SockAddress>,
    ) -> Result<u64> {
        let os = self.os_of(&s)?;
        let to = match &address {
            Some(a) => Some(self.ctx.gate.check(Use::SendTo(a))?),
            None => None,
        };
        Ok(os.sendmsg(w, self.ctx, &buffers, flags, to).await? as u64)
    }

    pub(crate) async fn recvmsg_with(
        &mut self,
        w: Waiter,
        s: Resource<Socket>,
        bufsize: u64,
        flags: MsgFlags,
    ) -> Result<Message> {
        // On a Unix-domain socket, descriptors may arrive with the data: with no room for them
        // they are closed and the message says MSG_CTRUNC, as recvmsg(2) says.
        if matches!(self.table.get(&s)?.family(), AddressFamily::Unix) {
            let m = self.recv_fds(w, &s, bufsize, 0, flags).await?;
            return Ok(Message {
                data: m.data,
                flags: m.flags,
                address: m.address,
            });
        }
        let os = self.os_of(&s)?;
        os.recvmsg(w, self.ctx, bufsize, flags).await
    }
}

impl Drop for OsSocket {
    fn drop(&mut self) {
        // Deregister first: a registration must not outlive its descriptor.
        drop(std::mem::take(&mut self.reactor));
        // SAFETY: `os` is taken exactly once, here, and not used after.
        let os = unsafe { ManuallyDrop::take(&mut self.os) };
        if self.outside.load(Ordering::Relaxed) {
            // Another process may have set SO_LINGER on it and closed its copy.
            crate::core::closer::close_later(os.into());
        }
    }
}

impl Watched for OsSocket {
    fn socket(&self) -> &socket2::Socket {
        &self.os
    }

    fn ready(&self, events: PollFlags) -> impl std::future::Future<Output = ()> + Send {
        OsSocket::ready(self, events)
    }
}

pub(crate) fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The socket calls that touch the resource's state, for the fronts.
impl SocketCtxView<'_> {
    pub(crate) fn socket_settimeout(
        &mut self,
        s: Resource<Socket>,
        timeout: Option<u64>,
    ) -> wasmtime::Result<()> {
        let mode = Mode::from_timeout(timeout.map(Duration::from_nanos));
        self.table.get_mut(&s)?.set_mode(mode);
        Ok(())
    }

    pub(crate) fn socket_gettimeout(
        &mut self,
        s: Resource<Socket>,
    ) -> wasmtime::Result<Option<u64>> {
        // A closed socket reports what it had: CPython keeps the timeout on the object.
        Ok(self.table.get(&s)?.mode().timeout().map(duration_ns))
    }

    pub(crate) fn socket_setblocking(
        &mut self,
        s: Resource<Socket>,
        flag: bool,
    ) -> wasmtime::Result<()> {
        let mode = if flag {
            Mode::Blocking
        } else {
            Mode::NonBlocking
        };
        self.table.get_mut(&s)?.set_mode(mode);
        Ok(())
    }

    pub(crate) fn socket_getblocking(&mut self, s: Resource<Socket>) -> wasmtime::Result<bool> {
        Ok(self.table.get(&s)?.mode() != Mode::NonBlocking)
    }

    pub(crate) fn socket_family(&mut self, s: Resource<Socket>) -> wasmtime::Result<AddressFamily> {
        Ok(self.table.get(&s)?.family)
    }

    pub(crate) fn socket_kind(&mut self, s: Resource<Socket>) -> wasmtime::Result<SocketKind> {
        Ok(self.table.get(&s)?.kind)
    }

    pub(crate) fn socket_proto(&mut self, s: Resource<Socket>) -> wasmtime::Result<i32> {
        Ok(self.table.get(&s)?.proto)
    }

    pub(crate) fn socket_dup(&mut self, s: Resource<Socket>) -> Result<Resource<Socket>> {
        let slot = self.ctx.slot()?;
        let dup = self.table.get(&s)?.dup(slot)?;
        self.push_socket(dup)
    }

    pub(crate) fn socket_get_inheritable(&mut self, s: Resource<Socket>) -> Result<bool> {
        let sock = self.table.get(&s)?;
        sock.os()?;
        Ok(sock.inheritable)
    }

    pub(crate) fn socket_set_inheritable(
        &mut self,
        s: Resource<Socket>,
        inheritable: bool,
    ) -> Result<()> {
        let sock = self.table.get_mut(&s)?;
        sock.os()?;
        sock.inheritable = inheritable;
        Ok(())
    }

    pub(crate) fn socket_close(&mut self, s: Resource<Socket>) -> Result<()> {
        // The OS socket closes with its last reference (a socket-io may hold one); closing
        // twice is not an error (socket.py).
        let sock = self.table.get_mut(&s)?;
        sock.closed_mode = sock.mode();
        sock.os = None;
        Ok(())
    }

    pub(crate) fn socket_drop(&mut self, s: Resource<Socket>) -> wasmtime::Result<()> {
        self.table.delete(s)?;
        Ok(())
    }
}
