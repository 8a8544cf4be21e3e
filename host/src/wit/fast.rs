//! Zero-copy paths for the byte-moving calls, on both hosts. Same semantics, same errors as
//! the generated bindings, which copy:
//!
//! - `send` and `sendall`: the bindings lift a `list<u8>` argument into a fresh `Vec<u8>` (an
//!   allocation and a copy per call). These hand the bytes to send(2) straight from the
//!   guest's memory (`WasmList::as_le_slice`), looked up afresh for each try.
//! - `recv`: the bindings lower a returned `Vec<u8>` by copying it into memory the guest's
//!   `cabi_realloc` gives. For a large read with bytes queued, this `recv` asks the guest for
//!   exactly that much memory and has recv(2) write into it ([`RecvReply`]).
//!
//! The synchronous host defines them with `func_wrap` and runs the core with
//! [`Waiter::Sync`]; the async host with `func_wrap_async` and [`Waiter::Async`].

use std::mem::MaybeUninit;
use std::sync::Arc;

use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext,
};
use wasmtime::component::{ComponentType, Linker, Lower, Resource, WasmList};
use wasmtime::{StoreContextMut, ValRaw};

use crate::SocketView;
use crate::core::error::SocketError;
use crate::core::ops::socket::{OsSocket, RecvPlan, Socket};
use crate::core::types::{Error, MsgFlags};
use crate::core::wait::{Waiter, run_sync};

/// The interface the definitions go in (the name the bindings use).
pub(crate) const SOCKET_INTERFACE: &str = "sockbox:socket/socket@0.1.0";

/// A guest error as the return value, a host failure as a trap.
pub(crate) fn finish<V>(r: Result<V, SocketError>) -> wasmtime::Result<(Result<V, Error>,)> {
    Ok((match r {
        Ok(v) => Ok(v),
        Err(e) => Err(e.into_guest()?),
    },))
}

/// `send` (once) or `sendall` of `data`, read from the guest's memory for each try.
async fn send<T: SocketView>(
    w: Waiter,
    store: &mut StoreContextMut<'_, T>,
    s: Resource<Socket>,
    data: WasmList<u8>,
    flags: MsgFlags,
    all: bool,
) -> Result<usize, SocketError> {
    let view = store.data_mut().socket_ctx();
    let os = view.os_of(&s)?;
    let intr = view.ctx.interrupt.clone();
    os.send_from(w, &intr, store, |st| data.as_le_slice(st), flags, all)
        .await
}

/// `recv`: planned (waiting as recv waits), then received while lowering when it can go
/// straight into guest memory.
async fn recv<T: SocketView>(
    w: Waiter,
    store: &mut StoreContextMut<'_, T>,
    s: Resource<Socket>,
    bufsize: u64,
    flags: MsgFlags,
) -> wasmtime::Result<RecvReply> {
    let view = store.data_mut().socket_ctx();
    let os = view.os_of(&s);
    let ctx = &*view.ctx;
    let planned = async {
        let os = os?;
        Ok::<_, SocketError>(match os.plan_recv(w, ctx, bufsize, flags).await? {
            RecvPlan::Direct { len } => RecvReply::Direct { os, len },
            RecvPlan::Ordinary => RecvReply::Done(Ok(os.recv(w, ctx, bufsize, flags).await?)),
        })
    };
    Ok(match planned.await {
        Ok(reply) => reply,
        Err(e) => RecvReply::Done(Err(e.into_guest()?)),
    })
}

/// Shadows `[method]socket.send`, `[method]socket.sendall` and `[method]socket.recv` of the
/// synchronous bindings with the zero-copy versions.
pub(crate) fn add_to_linker_sync<T: SocketView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut inst = linker.instance(SOCKET_INTERFACE)?;
    inst.func_wrap(
        "[method]socket.send",
        |mut store: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, MsgFlags)| {
            let sent = run_sync(send(Waiter::Sync, &mut store, s, data, flags, false));
            finish(sent.map(|n| n as u64))
        },
    )?;
    inst.func_wrap(
        "[method]socket.sendall",
        |mut store: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, MsgFlags)| {
            let sent = run_sync(send(Waiter::Sync, &mut store, s, data, flags, true));
            finish(sent.map(drop))
        },
    )?;
    inst.func_wrap(
        "[method]socket.recv",
        |mut store: StoreContextMut<'_, T>,
         (s, bufsize, flags): (Resource<Socket>, u64, MsgFlags)| {
            Ok((run_sync(recv(Waiter::Sync, &mut store, s, bufsize, flags))?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The same three calls for the async host: a wait suspends the guest.
pub(crate) fn add_to_linker_async<T: SocketView + Send + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut inst = linker.instance(SOCKET_INTERFACE)?;
    inst.func_wrap_async(
        "[method]socket.send",
        |mut store: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, MsgFlags)| {
            Box::new(async move {
                let sent = send(Waiter::Async, &mut store, s, data, flags, false).await;
                finish(sent.map(|n| n as u64))
            })
        },
    )?;
    inst.func_wrap_async(
        "[method]socket.sendall",
        |mut store: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, MsgFlags)| {
            Box::new(async move {
                let sent = send(Waiter::Async, &mut store, s, data, flags, true).await;
                finish(sent.map(drop))
            })
        },
    )?;
    inst.func_wrap_async(
        "[method]socket.recv",
        |mut store: StoreContextMut<'_, T>,
         (s, bufsize, flags): (Resource<Socket>, u64, MsgFlags)| {
            Box::new(
                async move { Ok((recv(Waiter::Async, &mut store, s, bufsize, flags).await?,)) },
            )
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// What the fast `recv` returns: a `result<list<u8>, error>` that the host lowers itself.
///
/// The canonical ABI allocates a returned list with the guest's `cabi_realloc` while lowering,
/// and only then is the guest's memory in reach. So the call plans the read (waiting for data
/// as recv does, and learning exactly how many bytes are queued) and the lowering allocates
/// that many and receives into them: one copy, kernel to guest, instead of two. The
/// allocation is never resized: guest allocators differ in what they allow
/// (componentize-py's `cabi_realloc` takes fresh allocations only).
///
/// This implements wasmtime's `ComponentType` and `Lower` by hand. They are public but
/// documented as internal; the wire format is delegated to wasmtime's own
/// `Result<list<u8>, error>`, so only the list's contents are produced here.
enum RecvReply {
    /// Received the ordinary way, or failed.
    Done(Result<Vec<u8>, Error>),
    /// `len` bytes are queued on `os`, which no one else reads: receive them while lowering.
    Direct { os: Arc<OsSocket>, len: usize },
}

/// The lowered form: a list the lowering already wrote into guest memory.
type Lowered = Result<GuestBytes, Error>;

impl RecvReply {
    /// Receives a planned read into memory from the guest's allocator, without waiting.
    fn receive<U>(
        os: &OsSocket,
        len: usize,
        cx: &mut LowerContext<'_, U>,
    ) -> wasmtime::Result<Lowered> {
        let ptr = cx.realloc(0, 0, 1, len)?;
        let got = loop {
            // `realloc` checked that `ptr..ptr + len` lies in memory.
            let buf = &mut cx.as_slice_mut()[ptr..ptr + len];
            match os.recv_queued(buf) {
                Err(rustix::io::Errno::INTR) => {}
                got => break got,
            }
        };
        Ok(match got {
            // A stream socket that only this instance reads gives what FIONREAD counted. Should
            // it give less (a reset in between), the list is what arrived: the guest frees it
            // by its pointer, and allocators keep the size with the block.
            Ok(n) => Ok(GuestBytes { ptr, len: n }),
            // A reset in between: the error, as recv(2) reports it. The canonical ABI has no
            // free, so the block stays the guest's.
            Err(e) => Err(SocketError::from(e).into_guest()?),
        })
    }
}

// SAFETY: the lowered form, alignment, size and type check are those of
// `Result<GuestBytes, Error>`, which `Lower` below produces (GuestBytes is a `list<u8>`).
unsafe impl ComponentType for RecvReply {
    type Lower = <Lowered as ComponentType>::Lower;
    const ABI: CanonicalAbiInfo = <Lowered as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <Lowered as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: both methods lower a `Lowered` (or wasmtime's `Result<Vec<u8>, Error>`, the same
// lowered form), as `ComponentType` declares.
unsafe impl Lower for RecvReply {
    fn linear_lower_to_flat<U>(
        &self,
        cx: &mut LowerContext<'_, U>,
        ty: InterfaceType,
        dst: &mut MaybeUninit<Self::Lower>,
    ) -> wasmtime::Result<()> {
        match self {
            RecvReply::Done(r) => r.linear_lower_to_flat(cx, ty, dst),
            RecvReply::Direct { os, len } => {
                Self::receive(os, *len, cx)?.linear_lower_to_flat(cx, ty, dst)
            }
        }
    }

    fn linear_lower_to_memory<U>(
        &self,
        cx: &mut LowerContext<'_, U>,
        ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        match self {
            RecvReply::Done(r) => r.linear_lower_to_memory(cx, ty, offset),
            RecvReply::Direct { os, len } => {
                Self::receive(os, *len, cx)?.linear_lower_to_memory(cx, ty, offset)
            }
        }
    }
}

/// A `list<u8>` already in the guest's memory, at `ptr`, `len` bytes long.
struct GuestBytes {
    ptr: usize,
    len: usize,
}

impl GuestBytes {
    /// The canonical ABI's pointer and length (32-bit memory).
    fn pair(&self) -> wasmtime::Result<(u32, u32)> {
        Ok((u32::try_from(self.ptr)?, u32::try_from(self.len)?))
    }
}

// SAFETY: a list is a pointer pair, lowered flat as two i64-held values, as wasmtime's `[u8]`.
unsafe impl ComponentType for GuestBytes {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <[u8] as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: writes the pointer pair the way wasmtime's own list lowering does.
unsafe impl Lower for GuestBytes {
    fn linear_lower_to_flat<U>(
        &self,
        _cx: &mut LowerContext<'_, U>,
        _ty: InterfaceType,
        dst: &mut MaybeUninit<[ValRaw; 2]>,
    ) -> wasmtime::Result<()> {
        let (ptr, len) = self.pair()?;
        dst.write([ValRaw::i64(ptr.into()), ValRaw::i64(len.into())]);
        Ok(())
    }

    fn linear_lower_to_memory<U>(
        &self,
        cx: &mut LowerContext<'_, U>,
        _ty: InterfaceType,
        offset: usize,
    ) -> wasmtime::Result<()> {
        let (ptr, len) = self.pair()?;
        *cx.get::<4>(offset) = ptr.to_le_bytes();
        *cx.get::<4>(offset + 4) = len.to_le_bytes();
        Ok(())
    }
}
