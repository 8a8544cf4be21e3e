//! `wasi:io/poll` for the synchronous host: wasmtime-wasi's `poll` and `pollable.block`, run
//! by `core::wait_set::block_on`, so waits on sockbox pollables (sockets, socket-io objects,
//! wasi:sockets sockets and streams) block in ppoll(2) on the calling thread. Every pollable,
//! sockbox's or wasi's, keeps wasmtime-wasi's semantics: the calls are wasmtime-wasi's own.
//!
//! `wasi:clocks/monotonic-clock.subscribe-duration` (the timeout of a guest's `select`,
//! `poll(2)` or `Poller`) is served here too, with a timer that such a wait also serves, and so
//! are the `blocking-*` calls of `wasi:io/streams` (wasmtime-wasi's, run the same way); the
//! streams' other calls are wasmtime-wasi's as they are.

use std::task::Poll;
use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::io::poll as async_poll;
use wasmtime_wasi::p2::bindings::io::streams as async_streams;
use wasmtime_wasi::p2::bindings::sync::io::poll as sync_poll;
use wasmtime_wasi::p2::bindings::sync::io::streams as sync_streams;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, StreamError, StreamResult};
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

impl sync_streams::Host for Polls<'_> {
    fn convert_stream_error(
        &mut self,
        err: StreamError,
    ) -> wasmtime::Result<sync_streams::StreamError> {
        sync_streams::Host::convert_stream_error(self.0, err)
    }
}

impl sync_streams::HostInputStream for Polls<'_> {
    fn read(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        sync_streams::HostInputStream::read(self.0, s, len)
    }

    fn blocking_read(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        block_on(async_streams::HostInputStream::blocking_read(
            self.0, s, len,
        ))
    }

    fn skip(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        sync_streams::HostInputStream::skip(self.0, s, len)
    }

    fn blocking_skip(&mut self, s: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        block_on(async_streams::HostInputStream::blocking_skip(
            self.0, s, len,
        ))
    }

    fn subscribe(
        &mut self,
        s: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        sync_streams::HostInputStream::subscribe(self.0, s)
    }

    fn drop(&mut self, s: Resource<DynInputStream>) -> wasmtime::Result<()> {
        sync_streams::HostInputStream::drop(self.0, s)
    }
}

impl sync_streams::HostOutputStream for Polls<'_> {
    fn check_write(&mut self, s: Resource<DynOutputStream>) -> StreamResult<u64> {
        sync_streams::HostOutputStream::check_write(self.0, s)
    }

    fn write(&mut self, s: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        sync_streams::HostOutputStream::write(self.0, s, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        s: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        block_on(async_streams::HostOutputStream::blocking_write_and_flush(
            self.0, s, bytes,
        ))
    }

    fn write_zeroes(&mut self, s: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        sync_streams::HostOutputStream::write_zeroes(self.0, s, len)
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        s: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        block_on(async_streams::HostOutputStream::blocking_write_zeroes_and_flush(self.0, s, len))
    }

    fn flush(&mut self, s: Resource<DynOutputStream>) -> StreamResult<()> {
        sync_streams::HostOutputStream::flush(self.0, s)
    }

    fn blocking_flush(&mut self, s: Resource<DynOutputStream>) -> StreamResult<()> {
        block_on(async_streams::HostOutputStream::blocking_flush(self.0, s))
    }

    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        sync_streams::HostOutputStream::splice(self.0, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        block_on(async_streams::HostOutputStream::blocking_splice(
            self.0, dst, src, len,
        ))
    }

    fn subscribe(
        &mut self,
        s: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        sync_streams::HostOutputStream::subscribe(self.0, s)
    }

    fn drop(&mut self, s: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        sync_streams::HostOutputStream::drop(self.0, s)
    }
}

/// A `subscribe-duration` timer, as wasmtime-wasi's: ready at `At(at)`, never for a duration
/// past the clock's range; a zero duration is ready after one yield, so that a guest's
/// non-blocking `poll` (its pollables and a zero timeout) reports only the pollables ready.
enum Timer {
    At(Instant),
    Never,
    Zero { yielded: bool },
}

#[async_trait::async_trait]
impl Pollable for Timer {
    async fn ready(&mut self) {
        match self {
            Timer::At(at) => {
                if !sleep_here(*at).await {
                    tokio::time::sleep_until((*at).into()).await;
                }
            }
            Timer::Never => std::future::pending().await,
            Timer::Zero { yielded } => {
                std::future::poll_fn(|cx| {
                    if std::mem::replace(yielded, true) {
                        return Poll::Ready(());
                    }
                    cx.waker().wake_by_ref();
                    Poll::Pending
                })
                .await
            }
        }
    }
}

/// `subscribe-duration`: a pollable ready once `ns` nanoseconds have passed.
fn subscribe_duration(
    table: &mut ResourceTable,
    ns: u64,
) -> wasmtime::Result<Resource<DynPollable>> {
    let timer = if ns == 0 {
        Timer::Zero { yielded: false }
    } else {
        Instant::now()
            .checked_add(Duration::from_nanos(ns))
            .map_or(Timer::Never, Timer::At)
    };
    let timer = table.push(timer)?;
    wasmtime_wasi::p2::subscribe(table, timer)
}

/// Replaces wasmtime-wasi's synchronous `wasi:io/poll`, `wasi:io/streams` and
/// `subscribe-duration` in `linker` with the ones above.
pub(crate) fn add_to_linker_sync<T: SocketView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = (|| {
        sync_poll::add_to_linker::<T, HasPolls>(linker, |t| Polls(t.socket_ctx().table))?;
        sync_streams::add_to_linker::<T, HasPolls>(linker, |t| Polls(t.socket_ctx().table))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A borrow of `r`, as a guest passes pollables to `poll`.
    fn borrow(r: &Resource<DynPollable>) -> Resource<DynPollable> {
        Resource::new_borrow(r.rep())
    }

    #[test]
    fn a_zero_timeout_is_not_reported_beside_a_ready_pollable() {
        let mut table = ResourceTable::new();
        let past = subscribe_duration(&mut table, 1).unwrap();
        std::thread::sleep(Duration::from_millis(1));
        let zero = subscribe_duration(&mut table, 0).unwrap();
        let mut polls = Polls(&mut table);
        // As wasmtime-wasi: the zero timer yields once, so only the ready one is reported.
        let ready = sync_poll::Host::poll(&mut polls, vec![borrow(&past), borrow(&zero)]);
        assert_eq!(ready.unwrap(), vec![0]);
        // Alone, it is ready (after its yield).
        let ready = sync_poll::Host::poll(&mut polls, vec![borrow(&zero)]);
        assert_eq!(ready.unwrap(), vec![0]);
    }

    #[test]
    fn block_waits_for_a_timer() {
        let mut table = ResourceTable::new();
        let timer = subscribe_duration(&mut table, 30_000_000).unwrap();
        let start = Instant::now();
        sync_poll::HostPollable::block(&mut Polls(&mut table), borrow(&timer)).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(30));
    }
}
