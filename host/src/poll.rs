//! `subscribe`: `wasi:io/poll` pollables over sockbox sockets, so a guest can wait on many
//! sockets (and wasi timers and streams) at once.
//!
//! A pollable's readiness comes from tokio's reactor (wasmtime-wasi runs `poll` on its tokio
//! runtime): on first use it registers a duplicate of the socket's descriptor, and of the
//! instance's interrupt eventfd, with an `AsyncFd`. tokio's readiness is edge-triggered and
//! cached, so a wake-up is checked with a zero-timeout poll(2) before it counts, and cleared
//! when stale. An idle socket costs nothing per `poll` after the first.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use rustix::event::{PollFd, PollFlags, Timespec};
use tokio::io::unix::AsyncFd;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::p2::{DynPollable, Pollable};

use crate::bindings::sockbox::socket::socket::Interest;
use crate::socket::OsSocket;
use crate::wait::InterruptHandle;

/// What a pollable waits on: a socket's readiness, or the instance's interrupt.
pub(crate) struct Readiness {
    /// `None` for a closed socket: ready at once.
    os: Option<Arc<OsSocket>>,
    events: PollFlags,
    interrupt: InterruptHandle,
    /// The registrations with tokio's reactor, made on first use.
    registered: Option<Registered>,
}

struct Registered {
    socket: AsyncFd<OwnedFd>,
    interest: tokio::io::Interest,
    interrupt: AsyncFd<OwnedFd>,
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
        registered: None,
    })?;
    wasmtime_wasi::p2::subscribe(table, readiness)
}

impl Readiness {
    /// Whether the socket is ready now (or in error, or hung up: the next call says which).
    fn ready_now(&self, os: &OsSocket) -> bool {
        let mut fds = [PollFd::new(&os.os, self.events)];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Ok(n) => n > 0,
            Err(_) => true,
        }
    }

    fn register(&self, os: &OsSocket) -> io::Result<Registered> {
        let mut interest = None;
        for (flag, tokio_interest) in [
            (PollFlags::IN, tokio::io::Interest::READABLE),
            (PollFlags::OUT, tokio::io::Interest::WRITABLE),
        ] {
            if self.events.contains(flag) {
                interest = Some(interest.map_or(tokio_interest, |i: tokio::io::Interest| {
                    i.add(tokio_interest)
                }));
            }
        }
        let interest = interest.unwrap_or(tokio::io::Interest::READABLE);
        Ok(Registered {
            socket: register(os.os.as_fd().try_clone_to_owned()?, interest)?,
            interest,
            interrupt: register(
                self.interrupt.eventfd_clone()?,
                tokio::io::Interest::READABLE,
            )?,
        })
    }
}

/// Registers a descriptor this `AsyncFd` will own with the current tokio reactor.
fn register(fd: OwnedFd, interest: tokio::io::Interest) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: `fd` is an open descriptor that the AsyncFd owns from here on; nothing else can
    // close or replace it while it is registered.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(|e| e.into_parts().1)
}

#[async_trait::async_trait]
impl Pollable for Readiness {
    async fn ready(&mut self) {
        let Some(os) = self.os.clone() else { return };
        if self.events.is_empty() || self.interrupt.is_interrupted() {
            return;
        }
        if self.registered.is_none() {
            if self.ready_now(&os) {
                return;
            }
            match self.register(&os) {
                Ok(r) => self.registered = Some(r),
                // Ready: the guest's next call on the socket reports what is wrong.
                Err(_) => return,
            }
        }
        let Some(reg) = &self.registered else { return };
        loop {
            tokio::select! {
                guard = reg.socket.ready(reg.interest) => {
                    let Ok(mut guard) = guard else { return };
                    if self.ready_now(&os) {
                        return;
                    }
                    guard.clear_ready();
                }
                guard = reg.interrupt.readable() => {
                    if self.interrupt.is_interrupted() {
                        return;
                    }
                    match guard {
                        Ok(mut guard) => guard.clear_ready(),
                        Err(_) => return,
                    }
                }
            }
        }
    }
}
