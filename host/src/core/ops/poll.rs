//! `subscribe`: `wasi:io/poll` pollables over sockbox sockets, so a guest can wait on many
//! sockets (and wasi timers and streams) at once.
//!
//! A pollable is checked with one poll(2) when a `poll` call starts, so a `poll` reports every
//! socket that is ready at the call (as select(2) does: the reactor may not have seen an edge
//! yet). After that it waits in the synchronous host's poll(2) (see `wait_set`), or on tokio's
//! reactor through the socket's one registration (see `reactor`); it also wakes when the
//! instance is interrupted.

use std::sync::Arc;

use rustix::event::PollFlags;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::{DynPollable, Pollable};

use crate::core::ctx::SocketCtxView;
use crate::core::ops::io::SocketIo;
use crate::core::ops::socket::{OsSocket, Socket};
use crate::core::types::Interest;
use crate::core::wait::InterruptHandle;

/// What a pollable waits on: a socket's readiness, or the instance's interrupt.
pub(crate) struct Readiness {
    /// `None` for a closed socket: ready at once.
    os: Option<Arc<OsSocket>>,
    events: PollFlags,
    interrupt: InterruptHandle,
}

/// A pollable for `os` (or a closed socket) and `interest`, pushed to `table`.
pub(crate) fn subscribe(
    table: &mut ResourceTable,
    os: Option<Arc<OsSocket>>,
    interest: Interest,
    interrupt: InterruptHandle,
) -> wasmtime::Result<Resource<DynPollable>> {
    let mut events = PollFlags::empty();
    if (interest & Interest::READABLE) == Interest::READABLE {
        events |= PollFlags::IN;
    }
    if (interest & Interest::WRITABLE) == Interest::WRITABLE {
        events |= PollFlags::OUT;
    }
    let readiness = table.push(Readiness {
        os,
        events,
        interrupt,
    })?;
    wasmtime_wasi::p2::subscribe(table, readiness)
}

#[async_trait::async_trait]
impl Pollable for Readiness {
    async fn ready(&mut self) {
        let Some(os) = &self.os else { return };
        if self.events.is_empty() || self.interrupt.is_interrupted() || os.ready_now(self.events) {
            return;
        }
        os.ready_or_interrupted(self.events, &self.interrupt).await;
    }
}

/// `subscribe` on a socket or a socket-io: a pollable for its readiness.
impl SocketCtxView<'_> {
    pub(crate) fn socket_subscribe(
        &mut self,
        s: Resource<Socket>,
        interest: crate::core::types::Interest,
    ) -> wasmtime::Result<Resource<wasmtime_wasi::p2::DynPollable>> {
        let os = self.table.get(&s)?.os_shared();
        subscribe(self.table, os, interest, self.ctx.interrupt.clone())
    }

    pub(crate) fn io_subscribe(
        &mut self,
        io: Resource<SocketIo>,
        interest: crate::core::types::Interest,
    ) -> wasmtime::Result<Resource<wasmtime_wasi::p2::DynPollable>> {
        let os = self.table.get(&io)?.os_if_open();
        subscribe(self.table, os, interest, self.ctx.interrupt.clone())
    }
}
