//! The policy: what a guest may reach. Default deny.
//!
//! A guest with an empty policy can create sockets but cannot bind (`listen` on an unbound
//! socket counts as a bind of the any-address, port 0), connect, send a datagram to an address,
//! or resolve a host name. Each allow rule opens one kind of access:
//!
//! | rule | opens | forms |
//! |------|-------|-------|
//! | `allow_connect` / `--allow-connect` | connect, connect-ex, sendto | address rule |
//! | `allow_bind` / `--allow-bind` | bind | address rule |
//! | `allow_lookup` / `--allow-lookup` | getaddrinfo of a host name | name rule |
//! | `allow_unix` / `--allow-unix` | Unix-domain bind, connect, sendto | `PATH`, `DIR/*`, `@NAME`, `@PREFIX*` |
//! | `allow_fd_passing` / `--allow-fd-passing` | send-fds, recv-fds | (a switch) |
//!
//! Address rules: `*` (anything), `IP`, `CIDR`, `[IPv6]`, `[IPv6/len]`, each optionally
//! followed by `:PORTS`, where PORTS is `N`, `N-M` or `*`; `*:PORTS` matches any address on
//! those ports. Without `:PORTS` every port matches; `:0` matches only port 0 (an ephemeral
//! bind). An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is matched as the IPv4 address it is.
//!
//! Name rules: `example.com` (that name, any case, trailing dot ignored), `*.example.com`
//! (any name under it), `*` (every name); and `IP`/`CIDR`, which allow reverse lookups
//! (gethostbyaddr, getnameinfo) of those addresses. Numeric hosts and `None` need no DNS and are not
//! checked by lookup rules; the address rules apply when they are used.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::addr::{UnixTarget, display};
use crate::bindings::sockbox::socket::types::{PolicyAction, PolicyDenial};

/// A parsed, immutable policy. Cheap to clone; share one among many instances.
#[derive(Clone, Default)]
pub struct Policy {
    rules: Arc<Rules>,
}

#[derive(Default)]
struct Rules {
    connect: Vec<AddrRule>,
    bind: Vec<AddrRule>,
    lookup: Vec<NameRule>,
    unix: Vec<UnixRule>,
    fd_passing: bool,
}

/// Builds a [`Policy`]. Every `allow_*` method parses its rule and fails on a malformed one.
#[derive(Default)]
pub struct PolicyBuilder {
    rules: Rules,
}

/// A rule that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid policy rule {rule:?}: {reason}")]
pub struct RuleError {
    rule: String,
    reason: String,
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

    /// Checks a connect (or connect-ex) to `addr`.
    pub fn check_connect(&self, addr: &SocketAddr) -> Result<(), Denial> {
        check_addr(&self.rules.connect, PolicyAction::Connect, addr)
    }

    /// Checks a sendto or sendmsg to `addr` (allowed by connect rules).
    pub fn check_send_to(&self, addr: &SocketAddr) -> Result<(), Denial> {
        check_addr(&self.rules.connect, PolicyAction::SendTo, addr)
    }

    /// Checks a bind to `addr`.
    pub fn check_bind(&self, addr: &SocketAddr) -> Result<(), Denial> {
        check_addr(&self.rules.bind, PolicyAction::Bind, addr)
    }

    /// Checks joining the multicast group `group`: a bind rule must cover the group address
    /// (on any port).
    pub fn check_multicast(&self, group: IpAddr) -> Result<(), Denial> {
        let ip = group.to_canonical();
        if self.rules.bind.iter().any(|r| r.covers_ip(ip)) {
            return Ok(());
        }
        Err(Denial {
            action: PolicyAction::Bind,
            target: ip.to_string(),
            rule: format!("--allow-bind {}", display_ip(ip)),
        })
    }

    /// Checks a reverse lookup (address to name) of `ip`: a lookup rule must cover the address
    /// (`--allow-lookup 127.0.0.0/8`) or be `*`. Checked before any query, so a guest cannot
    /// encode data in PTR queries.
    pub fn check_reverse_lookup(&self, ip: IpAddr) -> Result<(), Denial> {
        let ip = ip.to_canonical();
        if self.rules.lookup.iter().any(|r| r.matches_ip(ip)) {
            return Ok(());
        }
        Err(Denial {
            action: PolicyAction::Lookup,
            target: ip.to_string(),
            rule: format!("--allow-lookup {}", display_ip(ip)),
        })
    }

    /// Checks a DNS lookup of the host name `name`.
    pub fn check_lookup(&self, name: &str) -> Result<(), Denial> {
        let normal = normalize_name(name);
        if self.rules.lookup.iter().any(|r| r.matches(&normal)) {
            return Ok(());
        }
        Err(Denial {
            action: PolicyAction::Lookup,
            target: name.to_string(),
            rule: format!("--allow-lookup {normal}"),
        })
    }

    /// Checks a bind, connect or sendto on a Unix-domain address. Paths are compared after
    /// making them absolute and resolving `..` and symlinks in their parent directory, so a
    /// guest cannot step out of an allowed directory. Unnamed addresses need no rule.
    pub(crate) fn check_unix(&self, target: &UnixTarget) -> Result<(), Denial> {
        let (shown, allowed) = match target {
            UnixTarget::Unnamed => return Ok(()),
            UnixTarget::Path(p) => {
                let normal = normalize_unix_path(p);
                let ok = self.rules.unix.iter().any(|r| r.matches_path(&normal));
                (normal.display().to_string(), ok)
            }
            UnixTarget::Abstract(name) => {
                let ok = self.rules.unix.iter().any(|r| r.matches_abstract(name));
                (format!("@{}", String::from_utf8_lossy(name)), ok)
            }
        };
        if allowed {
            return Ok(());
        }
        Err(Denial {
            action: PolicyAction::Unix,
            target: shown.clone(),
            rule: format!("--allow-unix {shown}"),
        })
    }

    /// Checks passing descriptors (send-fds, recv-fds).
    pub fn check_fd_passing(&self) -> Result<(), Denial> {
        if self.rules.fd_passing {
            return Ok(());
        }
        Err(Denial {
            action: PolicyAction::FdPassing,
            target: "SCM_RIGHTS".to_string(),
            rule: "--allow-fd-passing".to_string(),
        })
    }

    /// Each rule in its flag form, one per line (what `sockbox policy` would print).
    pub fn describe(&self) -> Vec<String> {
        let r = &self.rules;
        let flag = |flag: &'static str| move |text: &String| format!("--allow-{flag} {text}");
        let connect = r.connect.iter().map(|x| &x.text).map(flag("connect"));
        let bind = r.bind.iter().map(|x| &x.text).map(flag("bind"));
        let lookup = r.lookup.iter().map(|x| &x.text).map(flag("lookup"));
        let unix = r.unix.iter().map(|x| &x.text).map(flag("unix"));
        let fds = r.fd_passing.then(|| "--allow-fd-passing".to_string());
        connect
            .chain(bind)
            .chain(lookup)
            .chain(unix)
            .chain(fds)
            .collect()
    }
}

fn check_addr(rules: &[AddrRule], action: PolicyAction, addr: &SocketAddr) -> Result<(), Denial> {
    let ip = addr.ip().to_canonical();
    if rules.iter().any(|r| r.matches(ip, addr.port())) {
        return Ok(());
    }
    let flag = match action {
        PolicyAction::Bind => "--allow-bind",
        _ => "--allow-connect",
    };
    let shown = display(&SocketAddr::new(ip, addr.port()));
    Err(Denial {
        action,
        target: display(addr),
        rule: format!("{flag} {shown}"),
    })
}

impl PolicyBuilder {
    /// Allows connect, connect-ex and sendto to addresses matching `rule` (an address rule).
    pub fn allow_connect(mut self, rule: &str) -> Result<Self, RuleError> {
        self.rules.connect.push(AddrRule::parse(rule)?);
        Ok(self)
    }

    /// Allows bind to addresses matching `rule` (an address rule).
    pub fn allow_bind(mut self, rule: &str) -> Result<Self, RuleError> {
        self.rules.bind.push(AddrRule::parse(rule)?);
        Ok(self)
    }

    /// Allows DNS lookups of names matching `rule` (a name rule).
    pub fn allow_lookup(mut self, rule: &str) -> Result<Self, RuleError> {
        self.rules.lookup.push(NameRule::parse(rule)?);
        Ok(self)
    }

    /// Allows Unix-domain bind, connect and sendto on matching addresses: `PATH` (that path),
    /// `DIR/*` (any path under DIR), `@NAME` (that abstract name), `@PREFIX*` (abstract names
    /// starting so). Paths are normalised as [`Policy::check_unix`] does.
    pub fn allow_unix(mut self, rule: &str) -> Result<Self, RuleError> {
        self.rules.unix.push(UnixRule::parse(rule)?);
        Ok(self)
    }

    /// Allows passing descriptors over Unix-domain sockets (send-fds, recv-fds).
    pub fn allow_fd_passing(mut self) -> Self {
        self.rules.fd_passing = true;
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
            "sockbox policy denies {what} {}; allow it with {}",
            self.target, self.rule
        )
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

/// An address rule: a network (or any address) and a port range.
struct AddrRule {
    net: Option<(IpAddr, u8)>,
    ports: RangeInclusive<u16>,
    text: String,
}

impl AddrRule {
    fn parse(text: &str) -> Result<Self, RuleError> {
        let err = |reason: &str| RuleError {
            rule: text.to_string(),
            reason: reason.to_string(),
        };
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
        let net = if host == "*" {
            None
        } else {
            Some(parse_net(host).ok_or_else(|| {
                err("expected an IP address, a CIDR or '*' (host names go in --allow-lookup)")
            })?)
        };
        Ok(AddrRule {
            net,
            ports,
            text: t.to_string(),
        })
    }

    fn matches(&self, ip: IpAddr, port: u16) -> bool {
        self.ports.contains(&port) && self.covers_ip(ip)
    }

    /// Whether the rule's address part covers `ip`, whatever the port.
    fn covers_ip(&self, ip: IpAddr) -> bool {
        match self.net {
            None => true,
            Some((net, len)) => in_net(ip, net, len),
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
    let max = if ip.is_ipv4() { 32 } else { 128 };
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

/// An address as a rule writes it: IPv6 without brackets is fine alone.
fn display_ip(ip: IpAddr) -> String {
    ip.to_string()
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
        let (wild, name) = match raw.strip_prefix("*.") {
            Some(rest) => ("*.", normalize_name(rest)),
            None => ("", normalize_name(raw)),
        };
        let ok = raw == "*"
            || (!name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'));
        if !ok {
            return Err(RuleError {
                rule: text.to_string(),
                reason: "expected a host name, '*.domain' or '*'".to_string(),
            });
        }
        Ok(NameRule {
            text: format!("{wild}{name}"),
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
        let err = |reason: &str| RuleError {
            rule: text.to_string(),
            reason: reason.to_string(),
        };
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
        assert!(p.check_send_to(&sa("127.0.0.1:8000")).is_ok());
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
            "localhost:80",
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
}
