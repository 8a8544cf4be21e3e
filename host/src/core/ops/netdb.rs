//! `netdb`: name resolution through the host's resolver, under the lookup policy.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use dns_lookup::{AddrInfoHints, LookupError, LookupErrorKind};
use socket2::{Domain, Type};

use std::net::SocketAddr;

use crate::core::addr::{family_of, from_std, kind_of, socket_type, to_std};
use crate::core::ctx::{SocketCtx, SocketCtxView};
use crate::core::error::SocketError;
use crate::core::policy::Use;
use crate::core::resolver::{Pending, Resolver, off_thread, spawn};
use crate::core::types::{
    AddrInfo, AddrInfoFlags, AddressFamily, Errno, GaiCode, HCode, HostEntry, NameInfoFlags,
    SockAddress, SocketKind,
};
use crate::core::wait::Waiter;

impl SocketCtxView<'_> {
    /// `getaddrinfo`, after the lookup policy: a host name needs a lookup rule; numeric
    /// hosts, `AI_NUMERICHOST` lookups and a `None` host need no DNS and are not checked. A
    /// name is resolved on a thread of its own, which the call waits for like any other
    /// (interruptible, and on the async host suspended: see [`crate::resolver`]). The policy
    /// and the pinning stay on the instance.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn getaddrinfo_with(
        &mut self,
        w: Waiter,
        host: Option<String>,
        port: Option<String>,
        family: AddressFamily,
        kind: Option<SocketKind>,
        proto: i32,
        flags: AddrInfoFlags,
    ) -> Result<Vec<AddrInfo>, SocketError> {
        let (host, port) = (host.as_deref(), port.as_deref());
        getaddrinfo(self.ctx, w, host, port, family, kind, proto, flags).await
    }

    /// `getnameinfo`: a reverse lookup of the host part needs a lookup rule for the address.
    pub(crate) async fn getnameinfo_with(
        &mut self,
        w: Waiter,
        address: &SockAddress,
        flags: NameInfoFlags,
    ) -> Result<(String, String), SocketError> {
        let sa = to_std(address)?;
        let mut raw = 0;
        for (flag, bit) in [
            (NameInfoFlags::NUMERICHOST, libc::NI_NUMERICHOST),
            (NameInfoFlags::NUMERICSERV, libc::NI_NUMERICSERV),
            (NameInfoFlags::NAMEREQD, libc::NI_NAMEREQD),
            (NameInfoFlags::NOFQDN, libc::NI_NOFQDN),
            (NameInfoFlags::DGRAM, libc::NI_DGRAM),
        ] {
            if flags.contains(flag) {
                raw |= bit;
            }
        }
        nameinfo(self.ctx, w, sa, raw).await?.map_err(lookup_error)
    }

    /// `gethostbyname(name)`: the first IPv4 address, under the lookup rules.
    pub(crate) async fn gethostbyname_with(
        &mut self,
        w: Waiter,
        name: &str,
    ) -> Result<String, SocketError> {
        // CPython's setipaddr: "" is the any-address, "<broadcast>" the broadcast address.
        match name {
            "" => return Ok("0.0.0.0".to_string()),
            "<broadcast>" => return Ok("255.255.255.255".to_string()),
            _ => {}
        }
        let (_, addresses) = lookup_v4(self.ctx, w, name).await?;
        addresses
            .into_iter()
            .next()
            .ok_or_else(|| gai(GaiCode::NoName, libc::EAI_NONAME))
    }

    /// `gethostbyname_ex(name)`: IPv4 only, as in CPython.
    pub(crate) async fn gethostbyname_ex_with(
        &mut self,
        w: Waiter,
        name: &str,
    ) -> Result<HostEntry, SocketError> {
        let (canon, addresses) = lookup_v4(self.ctx, w, name).await?;
        Ok(HostEntry {
            name: canon,
            aliases: Vec::new(),
            addresses,
        })
    }

    /// `gethostbyaddr`: forward-resolve a name first (lookup rules), then a reverse lookup of
    /// the address (a lookup rule covering it).
    pub(crate) async fn gethostbyaddr_with(
        &mut self,
        w: Waiter,
        address: &str,
    ) -> Result<HostEntry, SocketError> {
        no_nul(address)?;
        let ip: IpAddr = match address.parse() {
            Ok(ip) => ip,
            Err(_) => {
                let answers = getaddrinfo(
                    self.ctx,
                    w,
                    Some(address),
                    None,
                    AddressFamily::Unspec,
                    Some(SocketKind::Stream),
                    0,
                    AddrInfoFlags::empty(),
                )
                .await?;
                let first = answers
                    .first()
                    .ok_or_else(|| gai(GaiCode::NoName, libc::EAI_NONAME))?;
                to_std(&first.address)?.ip()
            }
        };
        let (name, _) = nameinfo(self.ctx, w, SocketAddr::new(ip, 0), libc::NI_NAMEREQD)
            .await?
            .map_err(|_| SocketError::h(HCode::HostNotFound, "Unknown host"))?;
        Ok(HostEntry {
            name,
            aliases: Vec::new(),
            addresses: vec![ip.to_string()],
        })
    }
}

/// `getaddrinfo` under the policy: numeric hosts answered on the calling thread, names on a
/// thread of their own.
#[allow(clippy::too_many_arguments)]
async fn getaddrinfo(
    ctx: &SocketCtx,
    w: Waiter,
    host: Option<&str>,
    port: Option<&str>,
    family: AddressFamily,
    kind: Option<SocketKind>,
    proto: i32,
    flags: AddrInfoFlags,
) -> Result<Vec<AddrInfo>, SocketError> {
    let lookup = Lookup::new(ctx, host, port, family, kind, proto, flags)?;
    let slot = ctx.lookup_slot()?;
    let numeric = lookup.name.is_none();
    let resolver = Arc::clone(&ctx.resolver);
    let query = move || {
        let answers = lookup.resolve(&*resolver);
        (lookup, answers)
    };
    let (lookup, answers) = if numeric {
        query()
    } else {
        off_thread(w, &ctx.interrupt, slot, query).await?
    };
    lookup.finish(ctx, answers?)
}

/// A forward lookup that the guest polls instead of waiting for (wasi:sockets'
/// `resolve-addresses`): checked by the lookup policy as it starts, resolved on a thread of
/// its own, its answers pinned as they are taken.
pub(crate) enum AddressLookup {
    /// A name being resolved.
    Running(Pending<(Lookup, Result<Vec<dns_lookup::AddrInfo>, SocketError>)>),
    /// The answer (a numeric host answers at once).
    Answered(Option<Result<Vec<IpAddr>, SocketError>>),
}

impl AddressLookup {
    /// Starts the lookup of `host` (a name or a numeric address) under the policy.
    pub(crate) fn start(ctx: &SocketCtx, host: &str) -> Result<AddressLookup, SocketError> {
        let kind = Some(SocketKind::Stream);
        let lookup = Lookup::new(
            ctx,
            Some(host),
            None,
            AddressFamily::Unspec,
            kind,
            0,
            AddrInfoFlags::empty(),
        )?;
        if lookup.name.is_none() {
            let answers = lookup.resolve(&*ctx.resolver);
            return Ok(AddressLookup::Answered(Some(
                lookup.addresses(ctx, answers),
            )));
        }
        let slot = ctx.lookup_slot()?;
        let resolver = Arc::clone(&ctx.resolver);
        Ok(AddressLookup::Running(spawn(slot, move || {
            let answers = lookup.resolve(&*resolver);
            (lookup, answers)
        })?))
    }

    /// The answer, once there (taken once; `None` while the lookup runs, and after).
    pub(crate) fn take(&mut self, ctx: &SocketCtx) -> Option<Result<Vec<IpAddr>, SocketError>> {
        match self {
            AddressLookup::Running(pending) => {
                let (lookup, answers) = pending.take()?;
                *self = AddressLookup::Answered(None);
                Some(lookup.addresses(ctx, answers))
            }
            AddressLookup::Answered(answer) => answer.take(),
        }
    }

    /// Resolves once the answer is there.
    pub(crate) async fn answered(&self) {
        if let AddressLookup::Running(pending) = self {
            pending.answered_async().await;
        }
    }
}

impl Lookup {
    /// [`finish`](Self::finish) (pinning) of the resolver's answers, as the distinct IP
    /// addresses they give, in the resolver's order.
    fn addresses(
        &self,
        ctx: &SocketCtx,
        answers: Result<Vec<dns_lookup::AddrInfo>, SocketError>,
    ) -> Result<Vec<IpAddr>, SocketError> {
        let mut ips: Vec<IpAddr> = Vec::new();
        for a in self.finish(ctx, answers?)? {
            if let Ok(sa) = to_std(&a.address)
                && !ips.contains(&sa.ip())
            {
                ips.push(sa.ip());
            }
        }
        Ok(ips)
    }
}

/// `getnameinfo` of `sa` under the policy (a lookup rule covering the address, unless only
/// numbers are asked for): the resolver's own answer, for the caller to word its errors.
async fn nameinfo(
    ctx: &SocketCtx,
    w: Waiter,
    sa: SocketAddr,
    raw: i32,
) -> Result<Result<(String, String), LookupError>, SocketError> {
    let numeric = raw & libc::NI_NUMERICHOST != 0;
    if !numeric {
        let _ = ctx.gate.check(Use::ReverseLookup(sa.ip()))?;
    }
    let slot = ctx.lookup_slot()?;
    let resolver = Arc::clone(&ctx.resolver);
    let query = move || resolver.getnameinfo(sa, raw);
    if numeric {
        Ok(query())
    } else {
        off_thread(w, &ctx.interrupt, slot, query).await
    }
}

/// One `getaddrinfo`, checked by the policy, in three steps: [`Lookup::new`] (validation and
/// policy, on the instance), [`Lookup::resolve`] (the resolver call, which may block: it runs
/// on a thread of its own), [`Lookup::finish`] (pinning, on the instance).
pub(crate) struct Lookup {
    host: Option<String>,
    port: Option<String>,
    hints: AddrInfoHints,
    /// The host name whose answers are pinned (not for numeric hosts).
    name: Option<String>,
}

impl Lookup {
    fn new(
        ctx: &SocketCtx,
        host: Option<&str>,
        port: Option<&str>,
        family: AddressFamily,
        kind: Option<SocketKind>,
        proto: i32,
        flags: AddrInfoFlags,
    ) -> Result<Lookup, SocketError> {
        for text in host.iter().chain(port.iter()) {
            no_nul(text)?;
        }
        // No host and no port, or an empty name: the resolver would answer EAI_NONAME (an
        // empty name might otherwise reach DNS through search domains).
        if (host.is_none() && port.is_none()) || host == Some("") {
            return Err(gai(GaiCode::NoName, libc::EAI_NONAME));
        }
        // A host name (not numeric) goes to DNS: the policy decides, and its answers are pinned.
        let name = host.filter(|h| !flags.contains(AddrInfoFlags::NUMERICHOST) && !numeric(h));
        // The resolver is asked the name exactly as the gate checked it.
        let checked = match name {
            Some(name) => ctx
                .gate
                .check(Use::Lookup(name))?
                .name()
                .map(str::to_string),
            None => None,
        };
        let address = match family {
            AddressFamily::Unspec => libc::AF_UNSPEC,
            AddressFamily::Inet => libc::AF_INET,
            AddressFamily::Inet6 => libc::AF_INET6,
            AddressFamily::Unix | AddressFamily::Other(_) => {
                return Err(gai(GaiCode::Family, libc::EAI_FAMILY));
            }
        };
        let socktype = match kind {
            None => 0,
            Some(k) => match socket_type(k) {
                Ok(ty) => i32::from(ty),
                Err(_) => return Err(gai(GaiCode::Socktype, libc::EAI_SOCKTYPE)),
            },
        };
        Ok(Lookup {
            host: checked.clone().or_else(|| host.map(str::to_string)),
            port: port.map(str::to_string),
            hints: AddrInfoHints {
                flags: raw_flags(flags),
                address,
                socktype,
                protocol: proto,
            },
            name: checked,
        })
    }

    /// Asks `resolver` (may block).
    fn resolve(&self, resolver: &dyn Resolver) -> Result<Vec<dns_lookup::AddrInfo>, SocketError> {
        resolver
            .getaddrinfo(self.host.as_deref(), self.port.as_deref(), self.hints)
            .map_err(lookup_error)
    }

    /// Pins the answers of a host name and converts them.
    fn finish(
        &self,
        ctx: &SocketCtx,
        answers: Vec<dns_lookup::AddrInfo>,
    ) -> Result<Vec<AddrInfo>, SocketError> {
        if let Some(name) = &self.name {
            ctx.gate.pin(name, answers.iter().map(|a| a.sockaddr.ip()));
        }
        Ok(answers
            .into_iter()
            .map(|a| AddrInfo {
                family: family_of(Domain::from(a.address)),
                kind: kind_of(Type::from(a.socktype)),
                proto: a.protocol,
                canonname: a.canonname.unwrap_or_default(),
                address: from_std(a.sockaddr),
            })
            .collect())
    }
}

/// Whether the C library's getaddrinfo takes `host` as a number, never a name: an IPv6
/// literal, also with a `%scope` (`fe80::1%lo`), or IPv4 in any of inet_aton's forms
/// (`127.0.0.1`, `127.1`, `0x7f.0.0.1`, `2130706433`). Such a host needs no lookup rule; the
/// address rules apply to where it leads.
fn numeric(host: &str) -> bool {
    if let Some((addr, scope)) = host.split_once('%') {
        return !scope.is_empty() && addr.parse::<std::net::Ipv6Addr>().is_ok();
    }
    host.parse::<IpAddr>().is_ok() || inet_aton(host).is_some()
}

/// inet_aton's reading of IPv4 text: one to four parts, each decimal, octal (leading `0`) or
/// hexadecimal (`0x`); the last part fills the bytes the others leave.
fn inet_aton(text: &str) -> Option<u32> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let (digits, radix) = match part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            Some(hex) => (hex, 16),
            None if part.len() > 1 && part.starts_with('0') => (&part[1..], 8),
            None => (*part, 10),
        };
        if part.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return None;
        }
        values.push(if digits.is_empty() {
            0
        } else {
            u32::from_str_radix(digits, radix).ok()?
        });
    }
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|v| *v > 0xFF) {
        return None;
    }
    let room = 8 * (4 - leading.len() as u32);
    if room < 32 && *last >> room != 0 {
        return None;
    }
    let high = leading
        .iter()
        .enumerate()
        .fold(0u32, |acc, (i, v)| acc | (v << (24 - 8 * i as u32)));
    Some(high | last)
}

/// Names cross into C strings: a NUL inside is a ValueError in CPython.
fn no_nul(text: &str) -> Result<(), SocketError> {
    if text.contains('\0') {
        return Err(SocketError::value("embedded null character"));
    }
    Ok(())
}

/// An OSError without an errno, as socket.py raises for service and protocol lookups.
fn not_found(message: &str) -> SocketError {
    SocketError::os(Errno::Other, message)
}

/// The IPv4 answers for `name`, and its canonical name.
async fn lookup_v4(
    ctx: &SocketCtx,
    w: Waiter,
    name: &str,
) -> Result<(String, Vec<String>), SocketError> {
    let answers = getaddrinfo(
        ctx,
        w,
        Some(name),
        None,
        AddressFamily::Inet,
        Some(SocketKind::Stream),
        0,
        AddrInfoFlags::CANONNAME,
    )
    .await?;
    let canon = answers
        .first()
        .map(|a| a.canonname.clone())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| name.to_string());
    let mut addresses: Vec<String> = Vec::new();
    for a in &answers {
        if let Some(ip) = to_std(&a.address).ok().map(|sa| sa.ip().to_string())
            && !addresses.contains(&ip)
        {
            addresses.push(ip);
        }
    }
    Ok((canon, addresses))
}

/// The socket type a `proto` argument of getservby* names.
fn service_type(proto: Option<&str>) -> Option<i32> {
    match proto {
        None | Some("tcp") => Some(libc::SOCK_STREAM),
        Some("udp") => Some(libc::SOCK_DGRAM),
        Some(_) => None,
    }
}

/// `getservbyname`, read from the services database through getaddrinfo (no DNS).
pub(crate) fn getservbyname(name: &str, proto: Option<&str>) -> Result<u16, SocketError> {
    no_nul(name)?;
    // No proto: any protocol, as getservbyname(3) — TCP first, then UDP.
    let socktypes: &[i32] = match proto {
        None => &[libc::SOCK_STREAM, libc::SOCK_DGRAM],
        Some(p) => match service_type(Some(p)) {
            Some(t) if t == libc::SOCK_STREAM => &[libc::SOCK_STREAM],
            Some(_) => &[libc::SOCK_DGRAM],
            None => &[],
        },
    };
    if name.is_empty() || name.parse::<u16>().is_ok() {
        return Err(not_found("service/proto not found"));
    }
    socktypes
        .iter()
        .find_map(|&socktype| {
            let hints = AddrInfoHints {
                flags: libc::AI_NUMERICHOST,
                address: libc::AF_INET,
                socktype,
                protocol: 0,
            };
            dns_lookup::getaddrinfo(Some("0.0.0.0"), Some(name), Some(hints))
                .ok()
                .and_then(|mut answers| answers.next())
                .and_then(|a| a.ok())
                .map(|a| a.sockaddr.port())
        })
        .ok_or_else(|| not_found("service/proto not found"))
}

/// `getservbyport`, read from the services database through getnameinfo (no DNS).
pub(crate) fn getservbyport(port: u16, proto: Option<&str>) -> Result<String, SocketError> {
    let socktype = service_type(proto).ok_or_else(|| not_found("port/proto not found"))?;
    let mut flags = libc::NI_NUMERICHOST;
    if socktype == libc::SOCK_DGRAM {
        flags |= libc::NI_DGRAM;
    }
    let any = SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, port));
    match dns_lookup::getnameinfo(&any, flags) {
        Ok((_, service)) if service.parse::<u16>().is_err() => Ok(service),
        _ => Err(not_found("port/proto not found")),
    }
}

/// `getprotobyname`: the IANA numbers of the protocols a socket can name (the protocols
/// database is not on every machine, so the table is here).
pub(crate) fn getprotobyname(name: &str) -> Result<i32, SocketError> {
    const PROTOCOLS: &[(&str, i32)] = &[
        ("ip", 0),
        ("icmp", 1),
        ("igmp", 2),
        ("tcp", 6),
        ("udp", 17),
        ("ipv6", 41),
        ("ipv6-route", 43),
        ("ipv6-frag", 44),
        ("gre", 47),
        ("esp", 50),
        ("ah", 51),
        ("ipv6-icmp", 58),
        ("ipv6-nonxt", 59),
        ("ipv6-opts", 60),
        ("sctp", 132),
        ("udplite", 136),
        ("mptcp", 262),
        ("raw", 255),
    ];
    let lower = name.to_ascii_lowercase();
    PROTOCOLS
        .iter()
        .find(|(n, _)| *n == lower)
        .map(|(_, p)| *p)
        .ok_or_else(|| not_found("protocol not found"))
}

fn raw_flags(flags: AddrInfoFlags) -> i32 {
    let mut raw = 0;
    for (flag, bit) in [
        (AddrInfoFlags::PASSIVE, libc::AI_PASSIVE),
        (AddrInfoFlags::CANONNAME, libc::AI_CANONNAME),
        (AddrInfoFlags::NUMERICHOST, libc::AI_NUMERICHOST),
        (AddrInfoFlags::NUMERICSERV, libc::AI_NUMERICSERV),
        (AddrInfoFlags::V4MAPPED, libc::AI_V4MAPPED),
        (AddrInfoFlags::ALL, libc::AI_ALL),
        (AddrInfoFlags::ADDRCONFIG, libc::AI_ADDRCONFIG),
    ] {
        if flags.contains(flag) {
            raw |= bit;
        }
    }
    raw
}

/// A gai error with the resolver's own message (`gai_strerror`).
fn gai(code: GaiCode, raw: i32) -> SocketError {
    SocketError::gai(code, gai_message(LookupError::new(raw)))
}

/// `gai_strerror`'s text, as Python's gaierror shows it (without std's prefix).
fn gai_message(err: LookupError) -> String {
    let text = io::Error::from(err).to_string();
    match text.strip_prefix("failed to lookup address information: ") {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// glibc's EAI_ADDRFAMILY (the host has no address of the family asked for), which the libc
/// crate does not name on Linux and dns_lookup reports as an I/O error.
const EAI_ADDRFAMILY: i32 = -9;

fn lookup_error(err: LookupError) -> SocketError {
    if err.error_num() == EAI_ADDRFAMILY {
        return SocketError::gai(GaiCode::AddressFamily, gai_message(err));
    }
    let code = match err.kind() {
        LookupErrorKind::Again => GaiCode::Again,
        LookupErrorKind::Badflags => GaiCode::BadFlags,
        LookupErrorKind::NoName => GaiCode::NoName,
        LookupErrorKind::NoData => GaiCode::NoData,
        LookupErrorKind::Fail => GaiCode::Fail,
        LookupErrorKind::Family => GaiCode::Family,
        LookupErrorKind::Socktype => GaiCode::Socktype,
        LookupErrorKind::Service => GaiCode::Service,
        LookupErrorKind::Memory => GaiCode::Memory,
        LookupErrorKind::System => GaiCode::System,
        LookupErrorKind::Unknown => GaiCode::Fail,
        // Not a resolver answer: an OS error from the call itself.
        LookupErrorKind::IO => return io::Error::from(err).into(),
    };
    SocketError::gai(code, gai_message(err))
}

/// `gethostname()`.
pub(crate) fn gethostname() -> Result<String, SocketError> {
    Ok(dns_lookup::get_hostname()?)
}

/// `if_nameindex()`.
pub(crate) fn if_nameindex() -> Result<Vec<(u32, String)>, SocketError> {
    Ok(crate::core::ifaces::nameindex()?)
}

/// `if_nametoindex(name)`.
pub(crate) fn if_nametoindex(name: &str) -> Result<u32, SocketError> {
    no_nul(name)?;
    crate::core::ifaces::nametoindex(name).ok_or_else(|| not_found("no interface with this name"))
}

/// `if_indextoname(index)`.
pub(crate) fn if_indextoname(index: u32) -> Result<String, SocketError> {
    crate::core::ifaces::indextoname(index).ok_or_else(|| not_found("No such device or address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_every_form_glibc_reads() {
        for (text, want) in [
            ("127.0.0.1", Some(0x7F00_0001)),
            ("127.1", Some(0x7F00_0001)),
            ("0x7f.1", Some(0x7F00_0001)),
            ("0x7f.0.0.1", Some(0x7F00_0001)),
            ("2130706433", Some(0x7F00_0001)),
            ("0177.0.0.1", Some(0x7F00_0001)),
            ("1.2.3", Some(0x0102_0003)),
            ("1.2.3.4.5", None),
            ("0x100.0.0.1", None),
            ("08.0.0.1", None),
            ("1.2.65536", None),
            ("1..2", None),
            ("", None),
            ("127.0.0.1 ", None),
            ("localhost", None),
        ] {
            assert_eq!(inet_aton(text), want, "{text}");
        }
        assert!(numeric("fe80::1%lo") && numeric("::1%1") && numeric("::1"));
        assert!(!numeric("fe80::1%") && !numeric("host%1") && !numeric("db.internal"));
    }
}
