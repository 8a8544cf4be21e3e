//! The `socket-io` resource: CPython's `SocketIO`, the raw stream under `makefile`.

use std::sync::Arc;

use wasmtime::component::Resource;

use crate::core::ctx::SocketCtxView;
use crate::core::error::SocketError;
use crate::core::ops::socket::{OsSocket, Socket};
use crate::core::types::{Errno, Error, MsgFlags};
use crate::core::wait::Waiter;

type Result<T, E = SocketError> = std::result::Result<T, E>;

/// A socket-io, as kept in the resource table.
pub struct SocketIo {
    /// The OS socket it reads and writes; `None` once closed. Holding it keeps the OS socket
    /// open after the socket itself is closed (socket.py's `_io_refs`).
    os: Option<Arc<OsSocket>>,
    mode: String,
    reading: bool,
    writing: bool,
    /// A read timed out: later reads fail (socket.py's `_timeout_occurred`).
    timeout_occurred: bool,
}

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo")
            .field("mode", &self.mode)
            .field("open", &self.os.is_some())
            .finish_non_exhaustive()
    }
}

impl SocketIo {
    fn open(sock: &Socket, mode: &str) -> Result<SocketIo> {
        // SocketIO.__init__: only these modes.
        if !matches!(mode, "r" | "w" | "rw" | "rb" | "wb" | "rwb") {
            return Err(SocketError::value(format!("invalid mode: {mode:?}")));
        }
        // SocketIO.__init__ adds "b": the raw stream is binary whatever was asked.
        let mode = if mode.contains('b') {
            mode.to_string()
        } else {
            format!("{mode}b")
        };
        Ok(SocketIo {
            os: Some(Arc::clone(sock.os()?)),
            reading: mode.contains('r'),
            writing: mode.contains('w'),
            mode,
            timeout_occurred: false,
        })
    }

    fn os(&self) -> Result<&OsSocket> {
        self.os
            .as_deref()
            .ok_or_else(|| SocketError::value("I/O operation on closed socket."))
    }

    /// The OS socket, or `None` once closed.
    pub(crate) fn os_if_open(&self) -> Option<Arc<OsSocket>> {
        self.os.clone()
    }

    /// The OS socket, shared (so the table stays free while a call waits).
    fn os_shared(&self) -> Result<Arc<OsSocket>> {
        self.os
            .clone()
            .ok_or_else(|| SocketError::value("I/O operation on closed socket."))
    }
}

/// A would-block error: socket-io answers `none` for it.
fn would_block(e: &SocketError) -> bool {
    e.errno_code() == Some(Errno::Again)
}

/// The socket-io calls that may wait, written once for both hosts (see `wait`).
impl SocketCtxView<'_> {
    /// `SocketIO.readinto`: the bytes, `None` on would-block; after a timeout, every later read
    /// fails (socket.py's `_timeout_occurred`).
    pub(crate) async fn read_with(
        &mut self,
        w: Waiter,
        io: Resource<SocketIo>,
        size: u64,
    ) -> Result<Option<Vec<u8>>> {
        let this = self.table.get(&io)?;
        let os = this.os_shared()?;
        if !this.reading {
            return Err(SocketError::os(
                Errno::NotSupported,
                "File not open for reading",
            ));
        }
        if this.timeout_occurred {
            // An OSError without an errno, as socket.py raises it.
            return Err(SocketError::os(
                Errno::Other,
                "cannot read from timed out object",
            ));
        }
        match os.recv(w, self.ctx, size, MsgFlags::empty()).await {
            Ok(data) => Ok(Some(data)),
            Err(e) if would_block(&e) => Ok(None),
            Err(e) => {
                if matches!(e.as_guest(), Some(Error::Timeout)) {
                    self.table.get_mut(&io)?.timeout_occurred = true;
                }
                Err(e)
            }
        }
    }

    /// `SocketIO.write`: the count sent, `None` on would-block.
    pub(crate) async fn write_with(
        &mut self,
        w: Waiter,
        io: Resource<SocketIo>,
        data: Vec<u8>,
    ) -> Result<Option<u64>> {
        let this = self.table.get(&io)?;
        let os = this.os_shared()?;
        if !this.writing {
            return Err(SocketError::os(
                Errno::NotSupported,
                "File not open for writing",
            ));
        }
        match os
            .send(w, &self.ctx.interrupt, &data, MsgFlags::empty())
            .await
        {
            Ok(n) => Ok(Some(n as u64)),
            Err(e) if would_block(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The socket calls that touch the resource's state, for the fronts.
impl SocketCtxView<'_> {
    pub(crate) fn io_open(
        &mut self,
        sock: Resource<Socket>,
        mode: String,
    ) -> Result<Resource<SocketIo>> {
        let io = SocketIo::open(self.table.get(&sock)?, &mode)?;
        Ok(self.table.push(io)?)
    }

    pub(crate) fn io_readable(&mut self, io: Resource<SocketIo>) -> Result<bool> {
        let this = self.table.get(&io)?;
        this.os()?;
        Ok(this.reading)
    }

    pub(crate) fn io_writable(&mut self, io: Resource<SocketIo>) -> Result<bool> {
        let this = self.table.get(&io)?;
        this.os()?;
        Ok(this.writing)
    }

    pub(crate) fn io_seekable(&mut self, io: Resource<SocketIo>) -> Result<bool> {
        self.table.get(&io)?.os()?;
        Ok(false)
    }

    pub(crate) fn io_mode(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<String> {
        Ok(self.table.get(&io)?.mode.clone())
    }

    pub(crate) fn io_closed(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<bool> {
        Ok(self.table.get(&io)?.os.is_none())
    }

    pub(crate) fn io_close(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<()> {
        self.table.get_mut(&io)?.os = None;
        Ok(())
    }

    pub(crate) fn io_drop(&mut self, io: Resource<SocketIo>) -> wasmtime::Result<()> {
        self.table.delete(io)?;
        Ok(())
    }
}
