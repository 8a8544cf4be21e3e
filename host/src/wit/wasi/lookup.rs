//! `wasi:sockets/ip-name-lookup`: the core's policy-checked lookups, polled.

use std::net::IpAddr;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::{DynPollable, Pollable};

use super::bindings::wasi::sockets::ip_name_lookup;
use super::bindings::wasi::sockets::network::{ErrorCode, IpAddress, Network};
use super::{WasiResult, ip_from_std};
use crate::core::ctx::SocketCtxView;
use crate::core::error::SocketError;
use crate::core::ops::netdb::AddressLookup;
use crate::core::types::{Error as GuestError, GaiCode};
use crate::core::wait::InterruptHandle;

/// The answers of one `resolve-addresses`, handed out one at a time.
pub struct ResolveAddressStream {
    lookup: AddressLookup,
    /// The addresses not yet handed out, in reverse (`None` until the answer came).
    left: Option<Vec<IpAddr>>,
    /// Wakes the stream's pollables when the instance is interrupted.
    interrupt: InterruptHandle,
}

impl std::fmt::Debug for ResolveAddressStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolveAddressStream")
            .field("left", &self.left)
            .finish_non_exhaustive()
    }
}

/// What `name` names, as the lookup (and the policy) takes it: an address, or a host name in
/// its ASCII form (a non-ASCII name turned to punycode by IDNA: `bücher.example` is
/// `xn--bcher-kva.example`). `None` for what cannot be a host (`invalid-argument`). Parsed as
/// wasmtime-wasi parses it, with the `url` crate's host parser (so `[::1]`, a bare IPv6
/// address, and URL-style IPv4 forms such as `0x7f.1` are addresses), so both implementations
/// take the same names.
fn host_of(name: &str) -> Option<String> {
    match url::Host::parse(name) {
        Ok(url::Host::Domain(domain)) => Some(domain),
        Ok(url::Host::Ipv4(ip)) => Some(ip.to_string()),
        Ok(url::Host::Ipv6(ip)) => Some(ip.to_string()),
        Err(_) => name
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| ip.to_string()),
    }
}

impl ip_name_lookup::Host for SocketCtxView<'_> {
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> WasiResult<Resource<ResolveAddressStream>> {
        self.table.get(&network)?;
        let host = host_of(&name).ok_or(ErrorCode::InvalidArgument)?;
        let lookup = AddressLookup::start(self.ctx, &host).map_err(lookup_error)?;
        Ok(self.table.push(ResolveAddressStream {
            lookup,
            left: None,
            interrupt: self.ctx.interrupt.clone(),
        })?)
    }
}

impl ip_name_lookup::HostResolveAddressStream for SocketCtxView<'_> {
    fn resolve_next_address(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> WasiResult<Option<IpAddress>> {
        let interrupted = self.ctx.interrupt.is_interrupted();
        let stream = self.table.get_mut(&this)?;
        if stream.left.is_none() {
            match stream.lookup.take(self.ctx) {
                None if interrupted => return Err(ErrorCode::Timeout.into()),
                None => return Err(ErrorCode::WouldBlock.into()),
                Some(Err(e)) => {
                    stream.left = Some(Vec::new());
                    return Err(lookup_error(e));
                }
                Some(Ok(mut ips)) => {
                    ips.reverse();
                    stream.left = Some(ips);
                }
            }
        }
        Ok(stream.left.as_mut().and_then(Vec::pop).map(ip_from_std))
    }

    fn subscribe(
        &mut self,
        this: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        wasmtime_wasi::p2::subscribe(self.table, this)
    }

    fn drop(&mut self, rep: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Pollable for ResolveAddressStream {
    async fn ready(&mut self) {
        if self.left.is_some() || self.interrupt.is_interrupted() {
            return;
        }
        tokio::select! {
            () = self.lookup.answered() => {}
            () = self.interrupt.interrupted() => {}
        }
    }
}

/// A lookup's failure as wasi:sockets words it.
fn lookup_error(e: SocketError) -> super::WasiError {
    match e.as_guest() {
        Some(GuestError::Gai(g)) => match g.code {
            GaiCode::NoName | GaiCode::NoData | GaiCode::AddressFamily => {
                ErrorCode::NameUnresolvable.into()
            }
            GaiCode::Again => ErrorCode::TemporaryResolverFailure.into(),
            _ => ErrorCode::PermanentResolverFailure.into(),
        },
        _ => e.into(),
    }
}
