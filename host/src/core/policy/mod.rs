//! The policy: what a guest may reach. Default deny.
//!
//! A guest with an empty policy can create sockets but cannot bind (`listen` on an unbound
//! socket counts as a bind of the any-address, port 0), connect, send a datagram to an address,
//! resolve a host name, or use a Unix-domain address. Each allow rule opens one kind of access:
//!
//! | rule | opens | forms |
//! |------|-------|-------|
//! | `allow_connect` / `--allow-connect` / `connect = [...]` | connect, connect-ex, sendto, sendmsg; datagrams received from these peers; lookups of the names it gives | address rule |
//! | `allow_bind` / `--allow-bind` / `bind = [...]` | bind (and listen on an unbound socket); multicast groups | address rule |
//! | `allow_lookup` / `--allow-lookup` / `lookup = [...]` | getaddrinfo and the other lookups | name rule |
//! | `allow_accept` / `--allow-accept` / `accept = [...]` | once given, only these peers get through accept | address rule |
//! | `allow_unix` / `--allow-unix` / `unix = [...]` | Unix-domain bind, connect, sendto | `PATH`, `DIR/*`, `@NAME`, `@PREFIX*` |
//! | `allow_fd_passing` / `--allow-fd-passing` / `fd_passing = true` | send-fds, recv-fds | (a switch) |
//!
//! Address rules: `HOST` followed by an optional `:PORTS`, where PORTS is `N`, `N-M` or `*`.
//! HOST is `*` (any address), `IP`, `CIDR`, `[IPv6]`, `[IPv6/len]`, a host name
//! (`db.internal`) or `*.domain` (any name under it). Without `:PORTS` every port matches;
//! `:0` matches only port 0 (an ephemeral bind). An IPv4-mapped IPv6 address
//! (`::ffff:1.2.3.4`) is matched as the IPv4 address it is.
//!
//! A host name in an address rule is matched through **DNS pinning**: a lookup the policy
//! allows records ("pins") its answers for the instance, and the name's rule then allows
//! exactly the addresses that name resolved to, on the rule's ports. A name in a connect or bind
//! rule allows looking that name up too. So `--allow-connect db.internal:5432` lets the guest
//! resolve `db.internal` and connect to what it resolved to, and a DNS answer that changes later
//! (rebinding) cannot widen it: a name's pins are its latest answer, so an address is allowed
//! only while the instance's latest lookup of the name gave it. Names are normalised once
//! (lower case, no trailing dot), and the resolver is asked that same name.
//!
//! Name rules (lookup): `example.com` (that name, any case, trailing dot ignored),
//! `*.example.com` (any name under it), `*` (every name); and `IP`/`CIDR`, which allow reverse
//! lookups (gethostbyaddr, getnameinfo) of those addresses. Numeric hosts and `None` need no
//! DNS and are not checked by lookup rules; the address rules apply when they are used.
//!
//! Datagrams: an unconnected UDP socket receives from anyone, so the host drops each datagram
//! whose sender the guest could not send to (the connect rules), logs it at debug level, and
//! goes on waiting. Received Unix-domain datagrams are not filtered: their senders reached a
//! path the policy let the guest bind.

pub mod file;
mod gate;

pub(crate) use gate::{Allowed, Gate, Use, open_no_symlinks, symlink_refused};

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::core::addr::{UnixTarget, display};
use crate::core::types::{PolicyAction, PolicyDenial};

/// A parsed, immutable policy. Cheap to clone; share one among many instances.
#[derive(Clone, Default)]
pub struct Policy {
    rules: Arc<Rules>,
}

#[derive(Default)]
struct Rules {
    connect: Vec<AddrRule>,
    /// `--allow-connect self`: connect to the instance's own listening sockets.
    connect_self: bool,
    bind: Vec<AddrRule>,
    accept: Vec<AddrRule>,
    lookup: Vec<NameRule>,
    unix: Vec<UnixRule>,
    fd_passing: bool,
    /// The policy file the rules came from, named in denials.
    file: Option<String>,
}

/// Builds a [`Policy`]. Every `allow_*` method parses its rule and fails on a malformed one.
#[derive(Default)]
pub struct PolicyBuilder {
    rules: Rules,
}

impl std::fmt::Debug for PolicyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyBuilder").finish_non_exhaustive()
    }
}

/// A rule that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid policy rule {rule:?}: {reason}")]
pub struct RuleError {
    rule: String,
    reason: String,
}

impl RuleError {
    fn new(rule: &str, reason: &str) -> Self {
        RuleError {
            rule: rule.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// The section of a policy a rule belongs to: its flag is `--allow-{key}`, its TOML key
/// `{key}` (with `_` for `-`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Connect,
    Bind,
    Accept,
    Lookup,
    Unix,
    FdPassing,
}

impl Section {
    fn flag(self) -> &'static str {
        match self {
            Section::Connect => "--allow-connect",
            Section::Bind => "--allow-bind",
            Section::Accept => "--allow-accept",
            Section::Lookup => "--allow-lookup",
            Section::Unix => "--allow-unix",
            Section::FdPassing => "--allow-fd-passing",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Section::Connect => "connect",
            Section::Bind => "bind",
            Section::Accept => "accept",
            Section::Lookup => "lookup",
            Section::Unix => "unix",
            Section::FdPassing => "fd_passing",
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.describe()).finish()
    }
}

impl Policy {
    /// A builder for a policy that allows nothing until told.
    pub fn builder() -> PolicyBuilder {
        PolicyBuilder::default()
    }

    /// The policy that allows nothing (the default).
    pub fn deny_all() -> Policy {
        Policy::default()
    }

    /// Checks a connect (or connect-ex) to `addr` by its address rules alone (host-name rules
    /// need an instance's DNS pins, so they match nothing here).
    pub fn check_connect(&self, addr: &SocketAddr) -> Result<(), Denial> {
        self.check_addr(
            Section::Connect,
            PolicyAction::Connect,
            addr,
            &Pins::default(),
        )
    }

    /// Checks a bind to `addr` by its address rules alone.
    pub fn check_bind(&self, addr: &SocketAddr) -> Result<(), Denial> {
        self.check_addr(Section::Bind, PolicyAction::Bind, addr, &Pins::default())
    }

    /// Checks a DNS lookup of the host name `name`: a lookup rule, or a host name in a connect
    /// or bind rule, must cover it.
    pub fn check_lookup(&self, name: &str) -> Result<(), Denial> {
        let normal = normalize_name(name);
        let r = &self.rules;
        let by_addr_rule = r
            .connect
            .iter()
            .chain(&r.bind)
            .any(|rule| matches!(&rule.host, Host::Name(p) if p.matches(&normal)));
        if by_addr_rule || r.lookup.iter().any(|rule| rule.matches(&normal)) {
            return Ok(());
        }
        Err(self.denial(
            PolicyAction::Lookup,
            name.to_string(),
            Section::Lookup,
            normal,
        ))
    }

    /// Checks a reverse lookup (address to name) of `ip`: a lookup rule must cover the address
    /// (`--allow-lookup 127.0.0.0/8`) or be `*`. Checked before any query, so a guest cannot
    /// encode data in PTR queries.
    pub fn check_reverse_lookup(&self, ip: IpAddr) -> Result<(), Denial> {
        let ip = ip.to_canonical();
        if self.rules.lookup.iter().any(|r| r.matches_ip(ip)) {
            return Ok(());
        }
        Err(self.denial(
            PolicyAction::Lookup,
            ip.to_string(),
            Section::Lookup,
            ip.to_string(),
        ))
    }

    /// Checks joining the multicast group `group`: a bind rule must cover the group address
    /// (on any port).
    pub fn check_multicast(&self, group: IpAddr) -> Result<(), Denial> {
        let ip = group.to_canonical();
        let pins = Pins::default();
        if self.rules.bind.iter().any(|r| r.covers_ip(ip, &pins)) {
            return Ok(());
        }
        Err(self.denial(
            PolicyAction::Bind,
            ip.to_string(),
            Section::Bind,
            ip.to_string(),
        ))
    }

    /// Checks a bind, connect or sendto on a Unix-domain address. Paths are compared after
    /// making them absolute and resolving `..` and symlinks in their parent directory, so a
    /// guest cannot step out of an allowed directory. Unnamed addresses need no rule.
    #[cfg(any(test, feature = "fuzz"))]
    pub(crate) fn check_unix(&self, target: &UnixTarget) -> Result<(), Denial> {
        match target {
            UnixTarget::Path(p) => {
                self.check_unix_resolved(&UnixTarget::Path(normalize_unix_path(p)), target)
            }
            other => self.check_unix_resolved(other, other),
        }
    }

    /// [`check_unix`](Self::check_unix) for a path already resolved by
    /// [`normalize_unix_path`] (the gate resolves it once and hands the OS that same path).
    /// A denial names the address as the guest gave it (`as_given`): the resolved path says
    /// things about the host (its working directory, where symlinks lead) and goes to the host
    /// log only.
    fn check_unix_resolved(
        &self,
        target: &UnixTarget,
        as_given: &UnixTarget,
    ) -> Result<(), Denial> {
        let (shown, allowed) = match target {
            UnixTarget::Unnamed => return Ok(()),
            UnixTarget::Path(normal) => {
                let ok = self.rules.unix.iter().any(|r| r.matches_path(normal));
                let given = match as_given {
                    UnixTarget::Path(p) => lexical(p).display().to_string(),
                    _ => normal.display().to_string(),
                };
                if !ok {
                    tracing::info!(target: "sockbox::policy", "Unix path {given:?} resolves to {}", normal.display());
                }
                (given, ok)
            }
            UnixTarget::Abstract(name) => {
                let ok = self.rules.unix.iter().any(|r| r.matches_abstract(name));
                (format!("@{}", String::from_utf8_lossy(name)), ok)
            }
        };
        if allowed {
            return Ok(());
        }
        Err(self.denial(PolicyAction::Unix, shown.clone(), Section::Unix, shown))
    }

    /// Checks passing descriptors (send-fds, recv-fds).
    pub fn check_fd_passing(&self) -> Result<(), Denial> {
        if self.rules.fd_passing {
            return Ok(());
        }
        Err(self.denial(
            PolicyAction::FdPassing,
            "SCM_RIGHTS".to_string(),
            Section::FdPassing,
            String::new(),
        ))
    }

    /// Whether connect rules allow the instance's own listening sockets (`self`).
    pub fn connects_to_self(&self) -> bool {
        self.rules.connect_self
    }

    /// Whether accept rules filter the peers `accept` returns.
    pub fn filters_accept(&self) -> bool {
        !self.rules.accept.is_empty()
    }

    /// Each rule in its flag form, one per line, in the order the sections are listed above.
    pub fn describe(&self) -> Vec<String> {
        let r = &self.rules;
        let addr = |section: Section, rules: &[AddrRule]| {
            rules
                .iter()
                .map(|x| format!("{} {}", section.flag(), x.text))
                .collect::<Vec<_>>()
        };
        let mut out = addr(Section::Connect, &r.connect);
        if r.connect_self {
            out.push("--allow-connect self".to_string());
        }
        out.extend(addr(Section::Bind, &r.bind));
        out.extend(addr(Section::Accept, &r.accept));
        out.extend(
            r.lookup
                .iter()
                .map(|x| format!("--allow-lookup {}", x.text)),
        );
        out.extend(r.unix.iter().map(|x| format!("--allow-unix {}", x.text)));
        if r.fd_passing {
            out.push("--allow-fd-passing".to_string());
        }
        out
    }

    /// The Unix-path rules that a guest could subvert through `dir`, a host directory it may
    /// write (a wasi preopen): a rule for a path in it, or for a directory that holds it. There
    /// the guest could hard-link or rename a socket from a path no rule allows to one a rule
    /// allows. Embedders should refuse such a combination (`sockbox run` does).
    pub fn unix_rules_overlapping(&self, dir: &Path) -> Vec<String> {
        let dir = normalize_unix_path(dir);
        self.rules
            .unix
            .iter()
            .filter(|r| match &r.kind {
                UnixRuleKind::Path(p) => p.starts_with(&dir),
                UnixRuleKind::Under(d) => d.starts_with(&dir) || dir.starts_with(d),
                UnixRuleKind::Abstract(_) | UnixRuleKind::AbstractPrefix(_) => false,
            })
            .map(|r| r.text.clone())
            .collect()
    }

    /// What each rule allows, in words, one per line (`sockbox policy check`).
    pub fn explain(&self) -> Vec<String> {
        let r = &self.rules;
        let mut out = Vec::new();
        let mut addr = |section: Section, rules: &[AddrRule], what: &str| {
            for x in rules {
                let host = match &x.host {
                    Host::Any => "any address".to_string(),
                    Host::Net(ip, len) if *len == max_len(*ip) => ip.to_string(),
                    Host::Net(ip, len) => format!("addresses in {ip}/{len}"),
                    Host::Name(p) => format!("what {} resolves to (pinned per instance)", p.text),
                };
                let ports = match (*x.ports.start(), *x.ports.end()) {
                    (0, u16::MAX) => "any port".to_string(),
                    (a, b) if a == b => format!("port {a}"),
                    (a, b) => format!("ports {a}-{b}"),
                };
                out.push(format!(
                    "{} = {:?}: {what} {host}, {ports}",
                    section.key(),
                    x.text
                ));
            }
        };
        addr(
            Section::Connect,
            &r.connect,
            "connect, sendto, and datagrams from",
        );
        addr(Section::Bind, &r.bind, "bind to");
        addr(Section::Accept, &r.accept, "accept connections from");
        for x in &r.lookup {
            let what = match (&x.net, x.text.as_str()) {
                (Some(_), _) => format!("reverse lookups of {}", x.text),
                (None, "*") => "lookups of every name".to_string(),
                (None, t) if t.starts_with("*.") => format!("lookups of names under {}", &t[1..]),
                (None, t) => format!("lookups of {t}"),
            };
            out.push(format!("lookup = {:?}: {what}", x.text));
        }
        for x in &r.unix {
            let what = match &x.kind {
                UnixRuleKind::Path(p) => format!("the Unix path {}", p.display()),
                UnixRuleKind::Under(d) => format!("Unix paths under {}", d.display()),
                UnixRuleKind::Abstract(_) => format!("the abstract name {}", x.text),
                UnixRuleKind::AbstractPrefix(_) => format!("abstract names {}", x.text),
            };
            out.push(format!(
                "unix = {:?}: bind, connect, sendto on {what}",
                x.text
            ));
        }
        if r.fd_passing {
            out.push("fd_passing = true: send_fds and recv_fds".to_string());
        }
        if r.accept.is_empty() {
            out.push("(no accept rules: accept returns every peer)".to_string());
        }
        if r.connect_self {
            out.push(
                "connect = \"self\": connect to the instance's own listening TCP sockets, while they listen"
                    .to_string(),
            );
        }
        out
    }

    fn check_addr(
        &self,
        section: Section,
        action: PolicyAction,
        addr: &SocketAddr,
        pins: &Pins,
    ) -> Result<(), Denial> {
        let rules = match section {
            Section::Bind => &self.rules.bind,
            Section::Accept => &self.rules.accept,
            _ => &self.rules.connect,
        };
        let ip = addr.ip().to_canonical();
        if rules.iter().any(|r| r.matches(ip, addr.port(), pins)) {
            return Ok(());
        }
        let shown = display(&SocketAddr::new(ip, addr.port()));
        Err(self.denial(action, display(addr), section, shown))
    }

    fn denial(
        &self,
        action: PolicyAction,
        target: String,
        section: Section,
        rule: String,
    ) -> Denial {
        // A guest chooses what it asks for: a 100 kB name must not become a 100 kB message.
        let (target, rule) = (shorten(target), shorten(rule));
        let (flag, toml) = match section {
            Section::FdPassing => (section.flag().to_string(), "fd_passing = true".to_string()),
            _ => (
                format!("{} {rule}", section.flag()),
                format!("{} = [{rule:?}]", section.key()),
            ),
        };
        Denial {
            action,
            target,
            rule: flag,
            toml,
            file: self.rules.file.clone(),
        }
    }
}

/// The addresses host names resolved to in one instance, each with the names that gave it.
/// Bounded: past [`Pins::MAX`] addresses the oldest is forgotten.
#[derive(Default)]
struct Pins {
    names: HashMap<IpAddr, Vec<Arc<str>>>,
    /// Each name's addresses (the reverse of `names`), so a new answer replaces the old.
    by_name: HashMap<Arc<str>, Vec<IpAddr>>,
    order: VecDeque<IpAddr>,
}

impl Pins {
    const MAX: usize = 4096;
    const MAX_NAMES_PER_ADDRESS: usize = 16;

    /// Makes `ips` the addresses `name` is pinned to.
    fn replace(&mut self, name: &Arc<str>, ips: Vec<IpAddr>) {
        for ip in self.by_name.remove(name).unwrap_or_default() {
            if ips.contains(&ip) {
                continue;
            }
            if let Some(names) = self.names.get_mut(&ip) {
                names.retain(|n| n != name);
                if names.is_empty() {
                    self.names.remove(&ip);
                    self.order.retain(|o| *o != ip);
                }
            }
        }
        for ip in &ips {
            self.insert(*ip, name);
        }
        self.by_name.insert(Arc::clone(name), ips);
    }

    fn insert(&mut self, ip: IpAddr, name: &Arc<str>) {
        let names = match self.names.get_mut(&ip) {
            Some(names) => names,
            None => {
                if self.order.len() >= Self::MAX
                    && let Some(old) = self.order.pop_front()
                {
                    for gone in self.names.remove(&old).unwrap_or_default() {
                        if let Some(list) = self.by_name.get_mut(&gone) {
                            list.retain(|o| *o != old);
                            if list.is_empty() {
                                self.by_name.remove(&gone);
                            }
                        }
                    }
                }
                self.order.push_back(ip);
                self.names.entry(ip).or_default()
            }
        };
        if !names.contains(name) {
            if names.len() >= Self::MAX_NAMES_PER_ADDRESS {
                names.remove(0);
            }
            names.push(Arc::clone(name));
        }
    }

    fn names(&self, ip: IpAddr) -> &[Arc<str>] {
        self.names.get(&ip).map_or(&[], Vec::as_slice)
    }
}

impl PolicyBuilder {
    /// Allows connect, connect-ex, sendto and sendmsg to addresses matching `rule` (an address
    /// rule), datagrams from them, and lookups of the names it gives.
    pub fn allow_connect(mut self, rule: &str) -> Result<Self, RuleError> {
        // `self`: the instance's own listeners (a socket pair made over TCP, say).
        if rule.trim() == "self" {
            self.rules.connect_self = true;
            return Ok(self);
        }
        self.rules.connect.push(AddrRule::parse(rule)?);
        Ok(self)
    }

    /// Allows bind to addresses matching `rule` (an address rule), joining multicast groups it
    /// covers, and lookups of the names it gives.
    pub fn allow_bind(mut self, rule: &str) -> Result<Self, RuleError> {
        self.rules.bind.push(AddrRule::parse(rule)?);
        Ok(self)
    }

    /// Filters accept: once any accept rule is given, connections from peers no accept rule
    /// matches are closed by the host and `accept` goes on waiting.
    pub fn allow_accept(mut self, rule: &str) -> Result<Self, RuleError> {
        self.rules.accept.push(AddrRule::parse(rule)?);
        Ok(self)
    }

    /// Allows DNS lookups of names matching `rule` (a name rule).
    pub fn allow_lookup(mut self, rule: &str) -> Result<Self, RuleError> {
        self.rules.lookup.push(NameRule::parse(rule)?);
        Ok(self)
    }

    /// Allows Unix-domain bind, connect and sendto on matching addresses: `PATH` (that path),
    /// `DIR/*` (any path under DIR), `@NAME` (that abstract name), `@PREFIX*` (abstract names
    /// starting so). Paths are normalised as the gate normalises them.
    pub fn allow_unix(mut self, rule: &str) -> Result<Self, RuleError> {
        self.rules.unix.push(UnixRule::parse(rule)?);
        Ok(self)
    }

    /// Allows passing descriptors over Unix-domain sockets (send-fds, recv-fds).
    pub fn allow_fd_passing(mut self) -> Self {
        self.rules.fd_passing = true;
        self
    }

    /// Allows everything a guest can ask for: any connect, bind, lookup, Unix path or
    /// abstract name, and fd passing. For trusted guests and experiments only.
    pub fn allow_all(self) -> Self {
        let all = |b: Result<Self, RuleError>| b.expect("the allow-all rules parse");
        let b = all(self.allow_connect("*"));
        let b = all(b.allow_bind("*"));
        let b = all(b.allow_lookup("*"));
        let b = all(b.allow_lookup("0.0.0.0/0"));
        let b = all(b.allow_lookup("::/0"));
        let b = all(b.allow_unix("/*"));
        all(b.allow_unix("@*")).allow_fd_passing()
    }

    /// Names the policy file the rules come from; denials then name the TOML line that would
    /// allow what they refuse.
    pub fn file(mut self, name: impl Into<String>) -> Self {
        self.rules.file = Some(name.into());
        self
    }

    /// The policy.
    pub fn build(self) -> Policy {
        Policy {
            rules: Arc::new(self.rules),
        }
    }
}

/// A refusal: what was refused and the rule that would allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// What kind of access was refused.
    pub action: PolicyAction,
    /// The refused address or name.
    pub target: String,
    /// The flag that would allow it (`--allow-connect 127.0.0.1:80`).
    pub rule: String,
    /// The policy-file line that would allow it (`connect = ["127.0.0.1:80"]`).
    pub toml: String,
    /// The policy file the policy came from, if any.
    pub file: Option<String>,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.action {
            PolicyAction::Connect => "connect to",
            PolicyAction::Bind => "bind to",
            PolicyAction::SendTo => "send to",
            PolicyAction::Lookup => "lookup of",
            PolicyAction::Unix => "Unix-domain access to",
            PolicyAction::FdPassing => "passing descriptors with",
            PolicyAction::Share => "sharing",
        };
        write!(
            f,
            "sockbox policy denies {what} {}; allow it with ",
            self.target
        )?;
        match &self.file {
            Some(file) => write!(f, "{} in {file} (or {})", self.toml, self.rule),
            None => write!(f, "{}", self.rule),
        }
    }
}

impl From<Denial> for PolicyDenial {
    fn from(d: Denial) -> Self {
        PolicyDenial {
            message: d.to_string(),
            action: d.action,
            target: d.target,
            rule: d.rule,
        }
    }
}

/// An address rule: a host (any, a network, or a name pattern) and a port range.
struct AddrRule {
    host: Host,
    ports: RangeInclusive<u16>,
    text: String,
}

enum Host {
    Any,
    Net(IpAddr, u8),
    /// Matched through the instance's DNS pins.
    Name(NameRule),
}

impl AddrRule {
    fn parse(text: &str) -> Result<Self, RuleError> {
        let err = |reason: &str| RuleError::new(text, reason);
        let t = text.trim();
        // Split off ":PORTS": brackets delimit IPv6; a bare IPv6 (several colons) has no port.
        let (host, ports) = if let Some(rest) = t.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or_else(|| err("missing ']'"))?;
            match after {
                "" => (inside, None),
                _ => (
                    inside,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| err("expected ':PORTS' after ']'"))?,
                    ),
                ),
            }
        } else if t.matches(':').count() > 1 {
            (t, None)
        } else {
            match t.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (t, None),
            }
        };
        let ports = match ports {
            None | Some("*") => 0..=u16::MAX,
            Some(p) => parse_ports(p).ok_or_else(|| err("ports must be N, N-M or *"))?,
        };
        let host = if host == "*" {
            Host::Any
        } else if let Some((ip, len)) = parse_net(host) {
            Host::Net(ip, len)
        } else if host
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'/')
            || host.contains(':')
        {
            return Err(err("expected an IP address, a CIDR, a host name or '*'"));
        } else {
            Host::Name(NameRule::parse_name(host).map_err(|_| {
                err("expected an IP address, a CIDR, a host name, '*.domain' or '*'")
            })?)
        };
        Ok(AddrRule {
            host,
            ports,
            text: t.to_string(),
        })
    }

    fn matches(&self, ip: IpAddr, port: u16, pins: &Pins) -> bool {
        self.ports.contains(&port) && self.covers_ip(ip, pins)
    }

    /// Whether the rule's host covers `ip`, whatever the port.
    fn covers_ip(&self, ip: IpAddr, pins: &Pins) -> bool {
        match &self.host {
            Host::Any => true,
            Host::Net(net, len) => in_net(ip, *net, *len),
            Host::Name(p) => pins.names(ip).iter().any(|n| p.matches(n)),
        }
    }
}

/// `IP` or `IP/len` (IPv6 with or without brackets), as a canonical network.
fn parse_net(text: &str) -> Option<(IpAddr, u8)> {
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let (ip, len) = match text.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (text, None),
    };
    let ip: IpAddr = ip.parse().ok()?;
    let max = max_len(ip);
    let len = match len {
        None => max,
        Some(l) => l.parse::<u8>().ok().filter(|l| *l <= max)?,
    };
    // An IPv4-mapped network is the IPv4 network it maps.
    let canonical = ip.to_canonical();
    let len = if canonical.is_ipv4() && max == 128 {
        len.checked_sub(96)?
    } else {
        len
    };
    Some((canonical, len))
}

fn max_len(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn parse_ports(p: &str) -> Option<RangeInclusive<u16>> {
    match p.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (lo.parse().ok()?, hi.parse().ok()?);
            (lo <= hi).then_some(lo..=hi)
        }
        None => {
            let n = p.parse().ok()?;
            Some(n..=n)
        }
    }
}

/// A name rule: an exact name, `*.suffix`, or `*`; or an address or CIDR, which allows
/// reverse lookups of the addresses it covers.
struct NameRule {
    text: String,
    net: Option<(IpAddr, u8)>,
}

impl NameRule {
    fn parse(text: &str) -> Result<Self, RuleError> {
        let raw = text.trim();
        if let Some(net) = parse_net(raw) {
            return Ok(NameRule {
                text: raw.to_string(),
                net: Some(net),
            });
        }
        Self::parse_name(raw)
    }

    /// `name`, `*.domain` or `*`.
    fn parse_name(raw: &str) -> Result<Self, RuleError> {
        let (wild, name) = match raw.strip_prefix("*.") {
            Some(rest) => ("*.", normalize_name(rest)),
            None => ("", normalize_name(raw)),
        };
        let ok = raw == "*"
            || (!name.is_empty()
                && name.len() <= 253
                && !name.starts_with('.')
                && !name.contains("..")
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'));
        if !ok {
            return Err(RuleError::new(
                raw,
                "expected a host name, '*.domain' or '*'",
            ));
        }
        Ok(NameRule {
            text: if raw == "*" {
                "*".to_string()
            } else {
                format!("{wild}{name}")
            },
            net: None,
        })
    }

    fn matches_ip(&self, ip: IpAddr) -> bool {
        match self.net {
            Some((net, len)) => in_net(ip, net, len),
            None => self.text == "*",
        }
    }

    fn matches(&self, name: &str) -> bool {
        if self.net.is_some() {
            return false;
        }
        match self.text.strip_prefix('*') {
            Some("") => true,
            Some(suffix) => name.ends_with(suffix) && name.len() > suffix.len(),
            None => self.text == name,
        }
    }
}

/// A Unix-domain rule.
struct UnixRule {
    kind: UnixRuleKind,
    text: String,
}

enum UnixRuleKind {
    Path(PathBuf),
    Under(PathBuf),
    Abstract(Vec<u8>),
    AbstractPrefix(Vec<u8>),
}

impl UnixRule {
    fn parse(text: &str) -> Result<Self, RuleError> {
        let err = |reason: &str| RuleError::new(text, reason);
        let t = text.trim();
        if t.is_empty() || t.contains('\0') {
            return Err(err("expected PATH, DIR/*, @NAME or @PREFIX*"));
        }
        let kind = if let Some(name) = t.strip_prefix('@') {
            match name.strip_suffix('*') {
                Some(prefix) => UnixRuleKind::AbstractPrefix(prefix.as_bytes().to_vec()),
                None if !name.is_empty() => UnixRuleKind::Abstract(name.as_bytes().to_vec()),
                None => return Err(err("an abstract name after '@'")),
            }
        } else if let Some(dir) = t.strip_suffix("/*") {
            let dir = if dir.is_empty() { "/" } else { dir };
            let normal = normalize_unix_path(Path::new(dir));
            UnixRuleKind::Under(normal.canonicalize().unwrap_or(normal))
        } else {
            UnixRuleKind::Path(normalize_unix_path(Path::new(t)))
        };
        let text = match &kind {
            UnixRuleKind::Path(p) => p.display().to_string(),
            UnixRuleKind::Under(d) => d.join("*").display().to_string(),
            _ => t.to_string(),
        };
        Ok(UnixRule { kind, text })
    }

    fn matches_path(&self, path: &Path) -> bool {
        match &self.kind {
            UnixRuleKind::Path(p) => p == path,
            UnixRuleKind::Under(dir) => path.starts_with(dir) && path != dir,
            _ => false,
        }
    }

    fn matches_abstract(&self, name: &[u8]) -> bool {
        match &self.kind {
            UnixRuleKind::Abstract(n) => n == name,
            UnixRuleKind::AbstractPrefix(p) => name.starts_with(p),
            _ => false,
        }
    }
}

/// `path` with `.` and `..` folded by its text alone: no working directory, no symlink, nothing
/// of the host's filesystem (what a guest may be told back).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

/// A Unix path as the kernel will see it: absolute (relative to the host's working
/// directory), with `..` and symlinks in its parent directory resolved when the parent exists
/// (else resolved by its text).
pub(crate) fn normalize_unix_path(path: &Path) -> PathBuf {
    let abs = std::env::current_dir().unwrap_or_default().join(path);
    if let (Some(parent), Some(name)) = (abs.parent(), abs.file_name())
        && let Ok(real) = parent.canonicalize()
    {
        return real.join(name);
    }
    let mut out = PathBuf::from("/");
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(x) => out.push(x),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// `text`, or its first 200 characters and how long it was.
fn shorten(text: String) -> String {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        None => text,
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], text.len()),
    }
}

fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn default_denies_everything() {
        let p = Policy::deny_all();
        let d = p.check_connect(&sa("127.0.0.1:80")).unwrap_err();
        assert_eq!(d.rule, "--allow-connect 127.0.0.1:80");
        assert!(p.check_bind(&sa("[::1]:0")).is_err());
        assert_eq!(
            p.check_lookup("Example.COM.").unwrap_err().rule,
            "--allow-lookup example.com"
        );
    }

    #[test]
    fn address_rules() {
        let p = Policy::builder()
            .allow_connect("127.0.0.1:8000-8999")
            .unwrap()
            .allow_connect("10.0.0.0/8:443")
            .unwrap()
            .allow_connect("[::1]:53")
            .unwrap()
            .allow_connect("fd00::/8")
            .unwrap()
            .allow_connect("*:7")
            .unwrap()
            .build();
        assert!(p.check_connect(&sa("127.0.0.1:8000")).is_ok());
        assert!(p.check_connect(&sa("127.0.0.1:8999")).is_ok());
        assert!(p.check_connect(&sa("127.0.0.1:9000")).is_err());
        assert!(p.check_connect(&sa("127.0.0.2:8000")).is_err());
        assert!(p.check_connect(&sa("10.200.1.1:443")).is_ok());
        assert!(p.check_connect(&sa("11.0.0.1:443")).is_err());
        assert!(p.check_connect(&sa("[::1]:53")).is_ok());
        assert!(p.check_connect(&sa("[::1]:54")).is_err());
        assert!(p.check_connect(&sa("[fdff::1]:1")).is_ok());
        assert!(p.check_connect(&sa("[fe00::1]:1")).is_err());
        assert!(p.check_connect(&sa("8.8.8.8:7")).is_ok());
        // IPv4-mapped IPv6 is matched as IPv4, and the suggestion shows it so.
        assert!(p.check_connect(&sa("[::ffff:127.0.0.1]:8080")).is_ok());
        let d = p.check_connect(&sa("[::ffff:127.0.0.1]:1")).unwrap_err();
        assert_eq!(d.rule, "--allow-connect 127.0.0.1:1");
        // Connect rules do not open bind.
        assert!(p.check_bind(&sa("127.0.0.1:8000")).is_err());
        assert!(Gate::new(p).send_to(&sa("127.0.0.1:8000")).is_ok());
    }

    #[test]
    fn port_zero_and_any() {
        let p = Policy::builder()
            .allow_bind("127.0.0.1:0")
            .unwrap()
            .allow_bind("[::]")
            .unwrap()
            .build();
        assert!(p.check_bind(&sa("127.0.0.1:0")).is_ok());
        assert!(p.check_bind(&sa("127.0.0.1:80")).is_err());
        assert!(p.check_bind(&sa("[::]:80")).is_ok());
    }

    #[test]
    fn name_rules() {
        let p = Policy::builder()
            .allow_lookup("localhost")
            .unwrap()
            .allow_lookup("*.Example.com")
            .unwrap()
            .build();
        assert!(p.check_lookup("LOCALHOST.").is_ok());
        assert!(p.check_lookup("a.b.example.com").is_ok());
        assert!(p.check_lookup("example.com").is_err());
        assert!(p.check_lookup("badexample.com").is_err());
        assert!(
            Policy::builder()
                .allow_lookup("*")
                .unwrap()
                .build()
                .check_lookup("x")
                .is_ok()
        );
    }

    #[test]
    fn unix_rules_normalise_paths() {
        let dir = std::env::temp_dir().join(format!("sockbox-policy-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let dir = dir.canonicalize().unwrap();
        let d = dir.display();
        let p = Policy::builder()
            .allow_unix(&format!("{d}/*"))
            .unwrap()
            .allow_unix("/run/exact.sock")
            .unwrap()
            .allow_unix("@app-*")
            .unwrap()
            .build();
        let t = |s: String| UnixTarget::Path(PathBuf::from(s));
        assert!(p.check_unix(&t(format!("{d}/a.sock"))).is_ok());
        assert!(p.check_unix(&t(format!("{d}/sub/../b.sock"))).is_ok());
        // ".." cannot step out of the allowed directory.
        assert!(p.check_unix(&t(format!("{d}/../escape.sock"))).is_err());
        assert!(p.check_unix(&t("/run/exact.sock".into())).is_ok());
        assert!(p.check_unix(&t("/run/other.sock".into())).is_err());
        assert!(
            p.check_unix(&UnixTarget::Abstract(b"app-1".to_vec()))
                .is_ok()
        );
        assert!(
            p.check_unix(&UnixTarget::Abstract(b"other".to_vec()))
                .is_err()
        );
        assert!(p.check_unix(&UnixTarget::Unnamed).is_ok());
        assert_eq!(
            p.check_unix(&UnixTarget::Abstract(b"x".to_vec()))
                .unwrap_err()
                .rule,
            "--allow-unix @x"
        );
        assert!(Policy::deny_all().check_fd_passing().is_err());
        let fds = Policy::builder().allow_fd_passing().build();
        assert!(fds.check_fd_passing().is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn malformed_rules_are_errors() {
        for bad in [
            "",
            "1.2.3.4.5",
            "300.1.1.1:80",
            "a..b:80",
            "*.:80",
            "1.2.3.4:70000",
            "1.2.3.4:9-1",
            "10.0.0.0/33",
            "[::1",
            "[::1]80",
            "1.2.3.4:x",
        ] {
            assert!(AddrRule::parse(bad).is_err(), "{bad:?}");
        }
        for bad in ["", "a b", "*.", "ex/ample"] {
            assert!(NameRule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn name_rules_pin_what_the_name_resolved_to() {
        let p = Policy::builder()
            .allow_connect("db.internal:5432")
            .unwrap()
            .allow_connect("*.svc.local:80-81")
            .unwrap()
            .allow_bind("localhost:8000")
            .unwrap()
            .build();
        // A name in a connect or bind rule allows looking it up.
        assert!(p.check_lookup("DB.internal.").is_ok());
        assert!(p.check_lookup("a.svc.local").is_ok());
        assert!(p.check_lookup("localhost").is_ok());
        assert!(p.check_lookup("svc.local").is_err());
        let gate = Gate::new(p);
        // Before a lookup, the name's rule allows nothing.
        assert!(gate.connect(&sa("10.1.2.3:5432")).is_err());
        gate.pin("db.internal", ["10.1.2.3".parse().unwrap()]);
        gate.pin("x.svc.local", ["::ffff:10.9.9.9".parse().unwrap()]);
        gate.pin("localhost", ["127.0.0.1".parse().unwrap()]);
        assert!(gate.connect(&sa("10.1.2.3:5432")).is_ok());
        assert!(gate.connect(&sa("10.1.2.3:5433")).is_err());
        assert!(gate.connect(&sa("10.1.2.4:5432")).is_err());
        // Pinned as IPv4 and matched as IPv4, whichever form the guest uses.
        assert!(gate.connect(&sa("10.9.9.9:81")).is_ok());
        assert!(gate.connect(&sa("[::ffff:10.9.9.9]:80")).is_ok());
        assert!(gate.receive_from(&sa("10.9.9.9:80")));
        assert!(!gate.receive_from(&sa("10.9.9.8:80")));
        assert!(gate.bind(&sa("127.0.0.1:8000")).is_ok());
        assert!(gate.bind(&sa("127.0.0.1:8001")).is_err());
        // A name rule does not open what another name resolved to.
        gate.pin("evil.example", ["10.7.7.7".parse().unwrap()]);
        assert!(gate.connect(&sa("10.7.7.7:5432")).is_err());
    }

    #[test]
    fn pins_are_bounded() {
        let mut pins = Pins::default();
        let name: Arc<str> = "n".into();
        for i in 0..(Pins::MAX as u32 + 10) {
            pins.insert(IpAddr::from(i.to_be_bytes()), &name);
        }
        assert_eq!(pins.names.len(), Pins::MAX);
        assert!(pins.names(IpAddr::from(0u32.to_be_bytes())).is_empty());
        assert_eq!(
            pins.names(IpAddr::from((Pins::MAX as u32).to_be_bytes()))
                .len(),
            1
        );
    }

    #[test]
    fn accept_rules_filter_only_when_given() {
        let open = Gate::new(Policy::deny_all());
        assert!(open.accept_from(&sa("192.0.2.1:1")));
        let gate = Gate::new(
            Policy::builder()
                .allow_accept("127.0.0.0/8")
                .unwrap()
                .build(),
        );
        assert!(gate.accept_from(&sa("127.0.0.5:4000")));
        assert!(!gate.accept_from(&sa("[::1]:4000")));
    }

    #[test]
    fn denials_name_the_flag_and_the_file_line() {
        let p = Policy::builder().file("p.toml").build();
        let d = p.check_connect(&sa("127.0.0.1:80")).unwrap_err();
        assert_eq!(d.rule, "--allow-connect 127.0.0.1:80");
        assert_eq!(d.toml, r#"connect = ["127.0.0.1:80"]"#);
        assert_eq!(
            d.to_string(),
            r#"sockbox policy denies connect to 127.0.0.1:80; allow it with connect = ["127.0.0.1:80"] in p.toml (or --allow-connect 127.0.0.1:80)"#
        );
        assert_eq!(p.check_fd_passing().unwrap_err().toml, "fd_passing = true");
        let all = Policy::builder().allow_all().build();
        assert!(all.check_connect(&sa("[2001:db8::1]:1")).is_ok());
        assert!(
            all.check_reverse_lookup("192.0.2.1".parse().unwrap())
                .is_ok()
        );
        assert!(all.check_fd_passing().is_ok());
        // A guest-sized name is cut short in the denial.
        let long = "a".repeat(100_000);
        let d = Policy::deny_all().check_lookup(&long).unwrap_err();
        assert!(d.to_string().len() < 700, "{}", d.to_string().len());
        assert!(d.target.ends_with("... (100000 bytes)"));
    }

    #[test]
    fn denials_fold_dots_by_text_alone() {
        for (given, shown) in [
            ("/run/app/../x.sock", "/run/x.sock"),
            ("x.sock", "x.sock"),
            ("./a/../x.sock", "x.sock"),
            ("../x.sock", "../x.sock"),
            ("/../x.sock", "/x.sock"),
        ] {
            assert_eq!(
                super::lexical(Path::new(given)),
                Path::new(shown),
                "{given}"
            );
        }
    }
}
