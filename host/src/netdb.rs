//! `netdb`: name resolution through the host's resolver, under the lookup policy.

use std::io;
use std::net::IpAddr;

use dns_lookup::{AddrInfoHints, LookupError, LookupErrorKind};
use socket2::{Domain, Type};

use crate::addr::{family_of, from_std, kind_of, socket_type};
use crate::bindings::sockbox::socket::netdb::{AddrInfo, AddrInfoFlags, Host};
use crate::bindings::sockbox::socket::types::{AddressFamily, Errno, GaiCode, SocketKind};
use crate::ctx::{SocketCtx, SocketCtxView};
use crate::error::SocketError;

/// `getaddrinfo`, after the lookup policy: a host name needs a lookup rule; numeric hosts,
/// `AI_NUMERICHOST` lookups and a `None` host need no DNS and are not checked.
fn getaddrinfo(
    ctx: &SocketCtx,
    host: Option<&str>,
    port: Option<&str>,
    family: AddressFamily,
    kind: Option<SocketKind>,
    proto: i32,
    flags: AddrInfoFlags,
) -> Result<Vec<AddrInfo>, SocketError> {
    for text in host.iter().chain(port.iter()) {
        if text.contains('\0') {
            return Err(SocketError::os(Errno::Invalid, "embedded null character"));
        }
    }
    // No host and no port, or an empty name: the resolver would answer EAI_NONAME (an empty
    // name might otherwise reach DNS through search domains).
    if (host.is_none() && port.is_none()) || host == Some("") {
        return Err(gai(GaiCode::NoName, libc::EAI_NONAME));
    }
    if let Some(name) = host
        && !flags.contains(AddrInfoFlags::NUMERICHOST)
        && name.parse::<IpAddr>().is_err()
    {
        ctx.policy.check_lookup(name).map_err(|d| {
            tracing::info!(target: "sockbox::policy", "{d}");
            SocketError::denied(d.into())
        })?;
    }
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
    let hints = AddrInfoHints {
        flags: raw_flags(flags),
        address,
        socktype,
        protocol: proto,
    };
    let answers = dns_lookup::getaddrinfo(host, port, Some(hints)).map_err(lookup_error)?;
    let mut out = Vec::new();
    for answer in answers {
        let a = answer?;
        out.push(AddrInfo {
            family: family_of(Domain::from(a.address)),
            kind: kind_of(Type::from(a.socktype)),
            proto: a.protocol,
            canonname: a.canonname.unwrap_or_default(),
            address: from_std(a.sockaddr),
        });
    }
    Ok(out)
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

fn lookup_error(err: LookupError) -> SocketError {
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

impl Host for SocketCtxView<'_> {
    fn getaddrinfo(
        &mut self,
        host: Option<String>,
        port: Option<String>,
        family: AddressFamily,
        kind: Option<SocketKind>,
        proto: i32,
        flags: AddrInfoFlags,
    ) -> Result<Vec<AddrInfo>, SocketError> {
        getaddrinfo(
            self.ctx,
            host.as_deref(),
            port.as_deref(),
            family,
            kind,
            proto,
            flags,
        )
    }
}
