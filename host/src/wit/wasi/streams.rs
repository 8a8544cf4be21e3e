//! A connected TCP socket's `wasi:io` streams, over the core's OS socket.
//!
//! Neither stream waits in a call: reads and writes try once (MSG_DONTWAIT), and waiting is
//! the pollable's, which the guest's `poll` (or wasmtime-wasi's `blocking-*` calls) awaits
//! (see `OsSocket::ready_or_interrupted`), woken also by the instance's interrupt.
//!
//! The output stream takes at most [`WRITE_PERMIT`] bytes per `write`; what the kernel does not
//! take at once waits in the stream and goes out as the socket drains (on `flush`, the next
//! `check-write`, or while the guest waits on the pollable), so a stream holds at most one
//! permit's worth of the guest's bytes.

use std::sync::Arc;

use bytes::Bytes;
use rustix::event::PollFlags;
use wasmtime_wasi::p2::{InputStream, OutputStream, Pollable, StreamError, StreamResult};

use crate::core::ops::socket::OsSocket;
use crate::core::types::{Errno, MsgFlags};
use crate::core::wait::{InterruptHandle, Waiter, canceled, run_sync};

/// How many bytes `check-write` allows at a time.
pub(crate) const WRITE_PERMIT: usize = 256 * 1024;

/// The failure of a stream call whose wait the instance's interrupt cut short.
fn interrupted() -> StreamError {
    StreamError::LastOperationFailed(wasmtime::format_err!("{:?}", canceled()))
}

/// The input stream of a connected TCP socket.
pub(crate) struct TcpReader {
    os: Arc<OsSocket>,
    interrupt: InterruptHandle,
    /// The most one read returns (the instance's `max_read`).
    max_read: usize,
    /// The stream ended or failed: every later read says closed.
    closed: bool,
    /// The last read found nothing queued: a wait need not check first (wasi-libc reads,
    /// then waits on the pollable when the read was empty).
    drained: bool,
}

impl TcpReader {
    pub(crate) fn new(os: Arc<OsSocket>, interrupt: InterruptHandle, max_read: usize) -> Self {
        TcpReader {
            os,
            interrupt,
            max_read,
            closed: false,
            drained: false,
        }
    }
}

impl InputStream for TcpReader {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if self.closed {
            return Err(StreamError::Closed);
        }
        if size == 0 {
            return Ok(Bytes::new());
        }
        let mut buf = Vec::new();
        let got = self
            .os
            .make_room(&mut buf, size.min(self.max_read), MsgFlags::empty())
            .and_then(|room| {
                self.os
                    .os
                    .recv_with_flags(&mut buf.spare_capacity_mut()[..room], libc::MSG_DONTWAIT)
                    .map(|n| n.min(room))
            });
        match got {
            Ok(0) => {
                self.closed = true;
                Err(StreamError::Closed)
            }
            Ok(n) => {
                // SAFETY: recv(2) initialised the first `n` bytes of the spare capacity.
                unsafe { buf.set_len(n) };
                self.drained = false;
                Ok(Bytes::from(buf))
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                self.drained = true;
                if self.interrupt.is_interrupted() {
                    self.closed = true;
                    return Err(interrupted());
                }
                Ok(Bytes::new())
            }
            Err(e) => {
                self.closed = true;
                Err(StreamError::LastOperationFailed(e.into()))
            }
        }
    }
}

#[async_trait::async_trait]
impl Pollable for TcpReader {
    async fn ready(&mut self) {
        if self.closed
            || self.interrupt.is_interrupted()
            || (!self.drained && self.os.ready_now(PollFlags::IN))
        {
            return;
        }
        self.os
            .ready_or_interrupted(PollFlags::IN, &self.interrupt)
            .await;
    }
}

/// How an output stream stands.
enum WriteState {
    /// Open; the bytes of the last write the kernel has not taken yet (empty: none).
    Open(Bytes),
    /// The connection is gone (the peer reset it, or the socket was shut down for sending).
    Closed,
    /// A send failed: reported once, then closed.
    Failed(wasmtime::Error),
}

/// The output stream of a connected TCP socket.
pub(crate) struct TcpWriter {
    os: Arc<OsSocket>,
    interrupt: InterruptHandle,
    state: WriteState,
}

impl TcpWriter {
    pub(crate) fn new(os: Arc<OsSocket>, interrupt: InterruptHandle) -> Self {
        TcpWriter {
            os,
            interrupt,
            state: WriteState::Open(Bytes::new()),
        }
    }

    /// Sends what waits, as far as the kernel takes it now.
    fn push(&mut self) {
        let WriteState::Open(pending) = &mut self.state else {
            return;
        };
        while !pending.is_empty() {
            let sent =
                run_sync(
                    self.os
                        .send(Waiter::Sync, &self.interrupt, pending, MsgFlags::empty()),
                );
            match sent {
                Ok(n) => {
                    let _ = pending.split_to(n.min(pending.len()));
                }
                Err(e) => match e.errno_code() {
                    Some(Errno::Again | Errno::Canceled) => return,
                    Some(Errno::Pipe | Errno::ConnReset | Errno::NotConn) => {
                        self.state = WriteState::Closed;
                        return;
                    }
                    _ => {
                        self.state = WriteState::Failed(wasmtime::format_err!("{e:?}"));
                        return;
                    }
                },
            }
        }
    }

    /// The stream's error, if it has one (a failure is reported once, then the stream is
    /// closed).
    fn error(&mut self) -> Option<StreamError> {
        match std::mem::replace(&mut self.state, WriteState::Closed) {
            WriteState::Open(pending) => {
                self.state = WriteState::Open(pending);
                None
            }
            WriteState::Closed => Some(StreamError::Closed),
            WriteState::Failed(e) => Some(StreamError::LastOperationFailed(e)),
        }
    }
}

impl OutputStream for TcpWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if let Some(e) = self.error() {
            return Err(e);
        }
        let WriteState::Open(pending) = &mut self.state else {
            unreachable!("an open stream")
        };
        if !pending.is_empty() || bytes.len() > WRITE_PERMIT {
            return Err(StreamError::trap(
                "write of more bytes than check-write permitted",
            ));
        }
        *pending = bytes;
        self.push();
        match self.error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.push();
        match self.error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.push();
        if let Some(e) = self.error() {
            return Err(e);
        }
        match &self.state {
            WriteState::Open(pending) if pending.is_empty() => Ok(WRITE_PERMIT),
            _ if self.interrupt.is_interrupted() => {
                self.state = WriteState::Closed;
                Err(interrupted())
            }
            _ => Ok(0),
        }
    }
}

#[async_trait::async_trait]
impl Pollable for TcpWriter {
    async fn ready(&mut self) {
        loop {
            match &self.state {
                WriteState::Open(pending) if !pending.is_empty() => {}
                _ => return,
            }
            if self.interrupt.is_interrupted() {
                return;
            }
            if !self.os.ready_now(PollFlags::OUT) {
                self.os
                    .ready_or_interrupted(PollFlags::OUT, &self.interrupt)
                    .await;
                if self.interrupt.is_interrupted() {
                    return;
                }
            }
            self.push();
        }
    }
}

impl Drop for TcpWriter {
    fn drop(&mut self) {
        // A last try for bytes still waiting; the guest that wanted them sent flushed and
        // waited (`blocking-flush`), as WASI asks.
        self.push();
    }
}
