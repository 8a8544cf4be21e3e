//! `wasi:io/poll` for the synchronous host: wasmtime-wasi's `poll` and `pollable.block`, run
//! by `core::wait_set::block_on`, so waits on sockbox pollables (sockets, socket-io objects,
//! wasi:sockets sockets and streams) block in ppoll(2) on the calling thread. Every pollable,
//! sockbox's or wasi's, keeps wasmtime-wasi's semantics: the calls are wasmtime-wasi's own.
//!
//! `wasi:clocks/monotonic-clock.subscribe-duration` (the timeout of a guest's `select`,
//! `poll(2)` or `Poller`) is served here too, with a timer that such a wait also serves.

use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::io::poll as async_poll;
use wasmtime_wasi::p2::bindings::sync::io::poll as sync_poll;
use wasmtime_wasi::p2::{DynPollable, Pollable};

use crate::core::ctx::SocketView;
use crate::core::wait_set::{block_on, sleep_here};

/// The monotonic clock interface of the wasi version wasmtime-wasi 48 links.
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// The instance's resource table, seen by `wasi:io/poll`.
struct Polls<'a>(&'a mut ResourceTable);

struct HasPolls;

impl HasData for HasPolls {
    type Data<'a> = Polls<'a>;
}

impl sync_poll::Host for Polls<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        block_on(async_poll::Host::poll(self.0, pollables))
    }
}

impl sync_poll::HostPollable for Polls<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        block_on(async_poll::HostPollable::ready(self.0, pollable))
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        block_on(async_poll::HostPollable::block(self.0, pollable))
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.0, pollable)
    }
}

/// A `subscribe-duration` timer: ready at `at` (`None`: never, for a duration past the
/// clock's range), as wasmtime-wasi's.
struct Timer {
    at: Option<Instant>,
}

#[async_trait::async_trait]
impl Pollable for Timer {
    async fn ready(&mut self) {
        let Some(at) = self.at else {
            return std::future::pending().await;
        };
        if !sleep_here(at).await {
            tokio::time::sleep_until(at.into()).await;
        }
    }
}

/// `subscribe-duration`: a pollable ready once `ns` nanoseconds have passed.
fn subscribe_duration(
    table: &mut ResourceTable,
    ns: u64,
) -> wasmtime::Result<Resource<DynPollable>> {
    let timer = table.push(Timer {
        at: Instant::now().checked_add(Duration::from_nanos(ns)),
    })?;
    wasmtime_wasi::p2::subscribe(table, timer)
}

/// Replaces wasmtime-wasi's synchronous `wasi:io/poll` and `subscribe-duration` in `linker`
/// with the ones above.
pub(crate) fn add_to_linker_sync<T: SocketView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = (|| {
        sync_poll::add_to_linker::<T, HasPolls>(linker, |t| Polls(t.socket_ctx().table))?;
        linker.instance(MONOTONIC_CLOCK)?.func_wrap(
            "subscribe-duration",
            |mut store: StoreContextMut<'_, T>, (ns,): (u64,)| {
                Ok((subscribe_duration(store.data_mut().socket_ctx().table, ns)?,))
            },
        )
    })();
    linker.allow_shadowing(false);
    added
}
