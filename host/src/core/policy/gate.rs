//! The gate: where every address, name and path a guest hands the host meets the policy.
//!
//! One entry point, [`Gate::check`], for everything a guest can ask ([`Use`]). What it allows
//! comes back as an [`Allowed`] token carrying the address exactly as checked (a Unix path
//! resolved once, in the OS form the syscall takes); the operations that make a syscall with a
//! guest's address take the token, so no such syscall can be written without the check.
//! Filters (a connection accept returns, a datagram a read returns) ask [`Gate::allows`].

use std::any::Any;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use rustix::fs::{CWD, FileType, Mode, OFlags, ResolveFlags};
use socket2::SockAddr;

use super::{Denial, Pins, Policy, Section, normalize_name, normalize_unix_path};
use crate::core::addr::{self, Target, UnixTarget};
use crate::core::error::SocketError;
use crate::core::types::{Errno, PolicyAction, SockAddress};

/// Everything a guest can ask that the policy decides.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Use<'a> {
    /// connect, connect-ex and create-connection's connects, to an IP or Unix address.
    Connect(&'a SockAddress),
    /// sendto, and sendmsg or send-fds with an address.
    SendTo(&'a SockAddress),
    /// bind (and create-server's bind), to an IP or Unix address.
    Bind(&'a SockAddress),
    /// listen on an unbound socket (the kernel binds it to this any-address, port 0), or on
    /// one bound there without a rule.
    ImplicitBind(SocketAddr),
    /// A connection accept would hand the guest (accept rules; all pass without them).
    AcceptFrom(SocketAddr),
    /// A datagram a read would hand the guest: only from peers it may send to.
    ReceiveFrom(SocketAddr),
    /// A forward lookup of a host name.
    Lookup(&'a str),
    /// A reverse lookup (address to name), checked before any query.
    ReverseLookup(IpAddr),
    /// Joining a multicast group (IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP).
    MulticastJoin(IpAddr),
    /// Passing descriptors (send-fds, recv-fds).
    FdPassing,
}

/// What the gate allowed: the guest's address in the OS form that was checked, for the
/// syscall to use (none for uses without an address). Only [`Gate::check`] makes one.
#[must_use = "the syscall takes the address the gate checked"]
pub(crate) struct Allowed {
    address: Option<(SockAddr, Target)>,
    /// A looked-up name as checked (normalised): what the resolver is asked.
    name: Option<String>,
    /// The socket file a Unix address reaches, held open while the token lives: the OS address
    /// names it through `/proc/self/fd` (see [`open_socket_file`]).
    _file: Option<OwnedFd>,
}

impl std::fmt::Debug for Allowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Allowed")
            .field("address", &self.address.as_ref().map(|(os, _)| os))
            .field("name", &self.name)
            .finish()
    }
}

impl Allowed {
    /// The address as checked, in the OS's form.
    pub(crate) fn os_address(&self) -> Result<&SockAddr, SocketError> {
        match &self.address {
            Some((os, _)) => Ok(os),
            None => Err(SocketError::trap(wasmtime::format_err!(
                "a gate token without an address was used for a syscall that needs one"
            ))),
        }
    }

    /// A looked-up name as checked: lower case, without a trailing dot. The resolver must be
    /// asked this very name (`LOCALHOST.` would skip /etc/hosts and go to DNS).
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The address as checked, as the host reads it (IP, or a resolved Unix path).
    pub(crate) fn target(&self) -> Option<&Target> {
        self.address.as_ref().map(|(_, t)| t)
    }
}

/// An instance's policy with its DNS pins: what every entry point of the instance asks.
pub(crate) struct Gate {
    policy: Policy,
    pins: Mutex<Pins>,
    /// The instance's listening sockets, for `--allow-connect self`: each address with a
    /// token that lives as long as the socket.
    own: Mutex<Vec<(SocketAddr, Weak<dyn Any + Send + Sync>)>>,
}

impl Gate {
    pub(crate) fn new(policy: Policy) -> Gate {
        Gate {
            policy,
            pins: Mutex::new(Pins::default()),
            own: Mutex::new(Vec::new()),
        }
    }

    /// Notes a socket of the instance listening on `addr` (while `alive` lives), for a
    /// policy that allows connecting to the instance's own listeners.
    pub(crate) fn note_listener(&self, addr: SocketAddr, alive: Weak<dyn Any + Send + Sync>) {
        let mut own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        own.retain(|(_, token)| token.strong_count() > 0);
        own.push((addr, alive));
    }

    /// Whether `addr` reaches one of the instance's own listeners that still lives: the
    /// address it listens on, or a loopback address of its family when it listens on the
    /// any-address.
    fn is_own_listener(&self, addr: &SocketAddr) -> bool {
        if !self.policy.connects_to_self() {
            return false;
        }
        let own = self.own.lock().unwrap_or_else(|e| e.into_inner());
        let ip = addr.ip().to_canonical();
        own.iter().any(|(l, token)| {
            token.strong_count() > 0
                && l.port() == addr.port()
                && (l.ip().to_canonical() == ip
                    || (l.ip().is_unspecified() && ip.is_loopback() && l.is_ipv4() == ip.is_ipv4()))
        })
    }

    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    fn check_pinned(
        &self,
        section: Section,
        action: PolicyAction,
        addr: &SocketAddr,
    ) -> Result<(), Denial> {
        let pins = self.pins.lock().unwrap_or_else(|e| e.into_inner());
        self.policy.check_addr(section, action, addr, &pins)
    }

    /// connect, connect-ex, and the connects of create-connection.
    pub(super) fn connect(&self, addr: &SocketAddr) -> Result<(), Denial> {
        self.check_pinned(Section::Connect, PolicyAction::Connect, addr)
            .or_else(|denial| {
                if self.is_own_listener(addr) {
                    Ok(())
                } else {
                    Err(denial)
                }
            })
    }

    /// sendto, and sendmsg with an address.
    pub(super) fn send_to(&self, addr: &SocketAddr) -> Result<(), Denial> {
        self.check_pinned(Section::Connect, PolicyAction::SendTo, addr)
    }

    /// bind. The any-address with port 0 needs no rule: it is what connect and sendto do on
    /// their own (CPython's create_connection does it for `source_address=("", 0)`), and
    /// `listen` on a socket bound so is checked as `listen` on an unbound one.
    pub(super) fn bind(&self, addr: &SocketAddr) -> Result<(), Denial> {
        if addr.ip().is_unspecified() && addr.port() == 0 {
            return Ok(());
        }
        self.bind_rules(addr)
    }

    /// What the bind rules say of `addr`, with no exception.
    fn bind_rules(&self, addr: &SocketAddr) -> Result<(), Denial> {
        self.check_pinned(Section::Bind, PolicyAction::Bind, addr)
    }

    /// Whether a datagram from `from` reaches the guest: only from peers it may send to.
    pub(super) fn receive_from(&self, from: &SocketAddr) -> bool {
        self.send_to(from).is_ok()
    }

    /// Whether an accepted connection from `peer` reaches the guest (always, without accept
    /// rules).
    pub(super) fn accept_from(&self, peer: &SocketAddr) -> bool {
        !self.policy.filters_accept()
            || self
                .check_pinned(Section::Accept, PolicyAction::Connect, peer)
                .is_ok()
    }

    /// A forward lookup of `name`.
    pub(super) fn lookup(&self, name: &str) -> Result<(), Denial> {
        self.policy.check_lookup(name)
    }

    /// Records that `name` resolved to `ips` for this instance.
    /// The name's pins become exactly this answer's addresses: a later answer replaces an
    /// earlier one, so a name rule allows what the name resolves to now, never the union of
    /// all it ever resolved to.
    pub(crate) fn pin(&self, name: &str, ips: impl IntoIterator<Item = IpAddr>) {
        let name: Arc<str> = normalize_name(name).into();
        let ips: Vec<IpAddr> = ips.into_iter().map(|ip| ip.to_canonical()).collect();
        let mut pins = self.pins.lock().unwrap_or_else(|e| e.into_inner());
        pins.replace(&name, ips);
    }

    /// Checks one use. A denial is the guest's PermissionError (logged on the host, naming the
    /// rule that would allow it); an address the OS cannot take is its own error.
    pub(crate) fn check(&self, u: Use<'_>) -> Result<Allowed, SocketError> {
        let none = Allowed {
            address: None,
            name: None,
            _file: None,
        };
        let verdict = match u {
            Use::Connect(a) => return self.address(a, PolicyAction::Connect),
            Use::SendTo(a) => return self.address(a, PolicyAction::SendTo),
            Use::Bind(a) => return self.address(a, PolicyAction::Bind),
            Use::ImplicitBind(sa) => self.bind_rules(&sa),
            Use::AcceptFrom(sa) => {
                if self.accept_from(&sa) {
                    Ok(())
                } else {
                    Err(self.policy.denial(
                        PolicyAction::Connect,
                        sa.to_string(),
                        Section::Accept,
                        sa.to_string(),
                    ))
                }
            }
            Use::ReceiveFrom(sa) => self.send_to(&sa),
            Use::Lookup(name) => {
                return self.lookup(name).map_err(deny).map(|()| Allowed {
                    address: None,
                    name: Some(normalize_name(name)),
                    _file: None,
                });
            }
            // Libraries ask this of every address they meet (http.server's getfqdn at start):
            // the denial is logged at debug level, not at every run.
            Use::ReverseLookup(ip) => {
                return self
                    .policy
                    .check_reverse_lookup(ip)
                    .map(|()| none)
                    .map_err(|d| {
                        tracing::debug!(target: "sockbox::policy", "{d}");
                        SocketError::denied(d.into())
                    });
            }
            Use::MulticastJoin(group) => self.policy.check_multicast(group),
            Use::FdPassing => self.policy.check_fd_passing(),
        };
        verdict.map(|()| none).map_err(deny)
    }

    /// Whether a filter lets `u` through (a connection accept returns, a datagram a read
    /// returns); what it holds back is logged at debug level.
    pub(crate) fn allows(&self, u: Use<'_>) -> bool {
        let verdict = match u {
            Use::AcceptFrom(sa) => self.accept_from(&sa),
            Use::ReceiveFrom(sa) => self.receive_from(&sa),
            other => self.check(other).is_ok(),
        };
        if !verdict {
            tracing::debug!(target: "sockbox::policy", "held back {u:?} (no rule matches)");
        }
        verdict
    }

    /// An address for `action`: IP addresses by the address rules (with the DNS pins), Unix
    /// paths resolved once, checked by the Unix rules, and handed to the OS as resolved.
    fn address(&self, address: &SockAddress, action: PolicyAction) -> Result<Allowed, SocketError> {
        let target = addr::target(address)?;
        let os = match &target {
            Target::Ip(sa) => {
                let verdict = match action {
                    PolicyAction::Bind => self.bind(sa),
                    PolicyAction::SendTo => self.send_to(sa),
                    _ => self.connect(sa),
                };
                verdict.map_err(deny)?;
                SockAddr::from(*sa)
            }
            Target::Unix(UnixTarget::Path(p)) => {
                // The OS gets the path the policy checked (parent resolved); connect and sendto
                // reach the very file checked (no symlink anywhere on the way, one link).
                let normal = UnixTarget::Path(normalize_unix_path(p));
                let as_given = UnixTarget::Path(p.clone());
                self.policy
                    .check_unix_resolved(&normal, &as_given)
                    .map_err(deny)?;
                let os = normal.to_os()?;
                if let UnixTarget::Path(p) = &normal
                    && action != PolicyAction::Bind
                    && let Some((file, os)) = open_socket_file(p)?
                {
                    return Ok(Allowed {
                        address: Some((os, Target::Unix(normal))),
                        name: None,
                        _file: Some(file),
                    });
                }
                if let UnixTarget::Path(p) = &normal
                    && let Ok(meta) = std::fs::symlink_metadata(p)
                {
                    // bind creates the file (an existing one is EADDRINUSE); for connect
                    // without /proc, the checks open_socket_file makes, by path.
                    if meta.file_type().is_symlink() {
                        return Err(symlink_refused());
                    }
                    if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
                        return Err(links_refused());
                    }
                }
                return Ok(Allowed {
                    address: Some((os, Target::Unix(normal))),
                    name: None,
                    _file: None,
                });
            }
            Target::Unix(other) => {
                self.policy
                    .check_unix_resolved(other, other)
                    .map_err(deny)?;
                other.to_os()?
            }
        };
        Ok(Allowed {
            address: Some((os, target)),
            name: None,
            _file: None,
        })
    }
}

/// Opens the socket file a connect or sendto reaches, at `path` (resolved by the gate, so it
/// holds no symlink), following no symlink at all; the OS address is then that descriptor's
/// `/proc/self/fd` entry, so the syscall reaches this very inode whatever is renamed or
/// swapped meanwhile (a parent directory replaced by a symlink, the file by another). A file
/// with a second name (a hard link from a path no rule allows) is refused. `None` without
/// `/proc`, or when nothing can be opened there: the syscall then takes the path, checked the
/// same way just before.
fn open_socket_file(path: &Path) -> Result<Option<(OwnedFd, SockAddr)>, SocketError> {
    static PROC_FD: OnceLock<bool> = OnceLock::new();
    if !*PROC_FD.get_or_init(|| Path::new("/proc/self/fd").is_dir()) {
        return Ok(None);
    }
    let file = match open_no_symlinks(path, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC) {
        Ok(file) => file,
        // A symlink somewhere on a path that had none when the gate resolved it.
        Err(rustix::io::Errno::LOOP) => return Err(symlink_refused()),
        // Nothing there (or not reachable): the syscall takes the path and reports its own
        // error, in the OS's order (a wrong family before a missing file).
        Err(_) => return Ok(None),
    };
    let stat = rustix::fs::fstat(&file).map_err(std::io::Error::from)?;
    if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink {
        return Err(symlink_refused());
    }
    if stat.st_nlink > 1 {
        return Err(links_refused());
    }
    let os = SockAddr::unix(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    Ok(Some((file, os)))
}

/// Opens `path` (a path the gate resolved, so it holds no symlink) following no symlink on the
/// way (`openat2` with `RESOLVE_NO_SYMLINKS`): ELOOP when one appeared since. Before Linux 5.6,
/// or in a sandbox without openat2, only the last component is held to that (`O_NOFOLLOW`).
pub(crate) fn open_no_symlinks(path: &Path, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    match rustix::fs::openat2(
        CWD,
        path,
        flags,
        Mode::empty(),
        ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    ) {
        Err(rustix::io::Errno::NOSYS) => {
            rustix::fs::openat(CWD, path, flags | OFlags::NOFOLLOW, Mode::empty())
        }
        other => other,
    }
}

/// What a Unix path through a symlink is refused with (it could lead anywhere).
pub(crate) fn symlink_refused() -> SocketError {
    SocketError::os(
        Errno::Access,
        "Permission denied (a Unix socket path may not be a symlink or pass through one)",
    )
}

fn links_refused() -> SocketError {
    SocketError::os(
        Errno::Access,
        "Permission denied (a Unix socket file with more than one link)",
    )
}

/// A policy denial as the guest sees it, logged on the host.
pub(crate) fn deny(d: Denial) -> SocketError {
    tracing::info!(target: "sockbox::policy", "{d}");
    SocketError::denied(d.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// A later answer replaces a name's pins: rebinding cannot widen a name rule.
    #[test]
    fn a_new_answer_replaces_the_pins() {
        let policy = Policy::builder()
            .allow_connect("db.internal:5432")
            .unwrap()
            .build();
        let gate = Gate::new(policy);
        gate.pin("db.internal", ["10.1.2.3".parse().unwrap()]);
        assert!(gate.connect(&sa("10.1.2.3:5432")).is_ok());
        gate.pin("DB.internal.", ["10.1.2.4".parse().unwrap()]);
        assert!(gate.connect(&sa("10.1.2.4:5432")).is_ok());
        assert!(gate.connect(&sa("10.1.2.3:5432")).is_err());
        // Another name pinned to the same address keeps it.
        let policy = Policy::builder()
            .allow_connect("a.internal:1")
            .unwrap()
            .allow_connect("b.internal:1")
            .unwrap()
            .build();
        let gate = Gate::new(policy);
        gate.pin("a.internal", ["10.0.0.1".parse().unwrap()]);
        gate.pin("b.internal", ["10.0.0.1".parse().unwrap()]);
        gate.pin("a.internal", ["10.0.0.2".parse().unwrap()]);
        assert!(gate.connect(&sa("10.0.0.1:1")).is_ok());
        assert!(gate.connect(&sa("10.0.0.2:1")).is_ok());
    }

    /// The resolver is asked the name as checked: `LOCALHOST.` is looked up as `localhost`.
    #[test]
    fn lookups_resolve_the_name_as_checked() {
        let gate = Gate::new(Policy::builder().allow_lookup("localhost").unwrap().build());
        let allowed = gate.check(Use::Lookup("LOCALHOST.")).unwrap();
        assert_eq!(allowed.name(), Some("localhost"));
        assert!(gate.check(Use::Lookup("localhost.evil")).is_err());
    }

    /// The window between the check and the syscall: whatever is renamed in it, a connect
    /// with the checked address reaches the socket file that was checked, never another.
    #[test]
    fn a_checked_unix_address_reaches_the_checked_socket() {
        use std::os::unix::net::UnixListener;
        let base = std::env::temp_dir().join(format!("sockbox-gate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (allowed, secret) = (base.join("allowed"), base.join("secret"));
        std::fs::create_dir_all(&allowed).unwrap();
        std::fs::create_dir_all(&secret).unwrap();
        let base = base.canonicalize().unwrap();
        let good = UnixListener::bind(base.join("allowed/app.sock")).unwrap();
        let bad = UnixListener::bind(base.join("secret/app.sock")).unwrap();
        good.set_nonblocking(true).unwrap();
        bad.set_nonblocking(true).unwrap();
        let policy = Policy::builder()
            .allow_unix(&format!("{}/allowed/*", base.display()))
            .unwrap()
            .build();
        let gate = Gate::new(policy);
        let target = SockAddress::Unix(crate::core::types::UnixAddress::Path(
            base.join("allowed/app.sock")
                .into_os_string()
                .into_encoded_bytes(),
        ));
        let connect = |to: &Allowed| {
            let s =
                socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
            s.connect(to.os_address().unwrap()).map(|()| s)
        };

        // The parent directory swapped for a symlink to a directory no rule allows.
        let checked = gate.check(Use::Connect(&target)).unwrap();
        std::fs::rename(base.join("allowed"), base.join("moved")).unwrap();
        std::os::unix::fs::symlink(base.join("secret"), base.join("allowed")).unwrap();
        let _conn = connect(&checked).unwrap();
        assert!(
            good.accept().is_ok(),
            "the checked listener gets the connection"
        );
        assert!(bad.accept().is_err(), "the secret listener gets nothing");
        // Checked now, the path resolves into the secret directory: denied.
        assert!(gate.check(Use::Connect(&target)).is_err());
        std::fs::remove_file(base.join("allowed")).unwrap();
        std::fs::rename(base.join("moved"), base.join("allowed")).unwrap();

        // The socket file replaced by another (renamed over it) after the check.
        let checked = gate.check(Use::Connect(&target)).unwrap();
        std::fs::rename(base.join("allowed/app.sock"), base.join("allowed/old.sock")).unwrap();
        std::fs::rename(base.join("secret/app.sock"), base.join("allowed/app.sock")).unwrap();
        let _conn = connect(&checked).unwrap();
        assert!(
            good.accept().is_ok(),
            "the checked listener gets the connection"
        );
        assert!(bad.accept().is_err(), "the secret listener gets nothing");
        let _ = std::fs::remove_dir_all(&base);
    }
}
