//! Zero-copy paths for the byte-moving calls. Same semantics, same errors as the generated
//! bindings, which copy:
//!
//! - `send` and `sendall`: the bindings lift a `list<u8>` argument into a fresh `Vec<u8>` (an
//!   allocation and a copy per call). These hand the bytes to send(2) straight from the
//!   guest's memory (`WasmList::as_le_slice`).
//! - `recv`: the bindings lower a returned `Vec<u8>` by copying it into memory the guest's
//!   `cabi_realloc` gives. For a large read with bytes queued, this `recv` asks the guest for
//!   the memory first and has recv(2) write into it ([`RecvReply`]).

use std::mem::MaybeUninit;
use std::sync::Arc;

use wasmtime::component::__internal::{
    CanonicalAbiInfo, InstanceType, InterfaceType, LowerContext,
};
use wasmtime::component::{ComponentType, Linker, Lower, Resource, WasmList};
use wasmtime::{StoreContextMut, ValRaw};

use crate::SocketView;
use crate::bindings::sockbox::socket::types::{Error, MsgFlags};
use crate::error::SocketError;
use crate::socket::{OsSocket, RecvPlan, Socket};
use crate::wait::{self, Deadline, Interest, InterruptHandle};

/// The interface the definitions go in (the name the bindings use).
pub(crate) const SOCKET_INTERFACE: &str = "sockbox:socket/socket@0.1.0";

/// The OS socket of `s` and the instance's interrupt handle, cloned out of the store so the
/// guest's memory can be borrowed next.
pub(crate) fn target<T: SocketView>(
    store: &mut StoreContextMut<'_, T>,
    s: &Resource<Socket>,
) -> Result<(Arc<OsSocket>, InterruptHandle), SocketError> {
    let view = store.data_mut().socket_ctx();
    let os = Arc::clone(view.table.get(s)?.os()?);
    Ok((os, view.ctx.interrupt.clone()))
}

/// A guest error as the return value, a host failure as a trap.
pub(crate) fn finish<V>(r: Result<V, SocketError>) -> wasmtime::Result<(Result<V, Error>,)> {
    Ok((match r {
        Ok(v) => Ok(v),
        Err(e) => Err(e.into_guest()?),
    },))
}

/// Shadows `[method]socket.send`, `[method]socket.sendall` and `[method]socket.recv` with the
/// zero-copy versions.
pub(crate) fn add_to_linker<T: SocketView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut inst = linker.instance(SOCKET_INTERFACE)?;
    inst.func_wrap(
        "[method]socket.send",
        |mut store: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, MsgFlags)| {
            let r = target(&mut store, &s).and_then(|(os, intr)| {
                let bytes = data.as_le_slice(&store);
                os.send(&intr, bytes, flags).map(|n| n as u64)
            });
            finish(r)
        },
    )?;
    inst.func_wrap(
        "[method]socket.sendall",
        |mut store: StoreContextMut<'_, T>,
         (s, data, flags): (Resource<Socket>, WasmList<u8>, MsgFlags)| {
            let r = target(&mut store, &s).and_then(|(os, intr)| {
                let bytes = data.as_le_slice(&store);
                os.sendall(&intr, bytes, flags)
            });
            finish(r)
        },
    )?;
    inst.func_wrap(
        "[method]socket.recv",
        |mut store: StoreContextMut<'_, T>,
         (s, bufsize, flags): (Resource<Socket>, u64, MsgFlags)| {
            let view = store.data_mut().socket_ctx();
            let planned = (|| -> Result<RecvReply, SocketError> {
                let os = view.table.get(&s)?.os()?;
                Ok(match os.plan_recv(view.ctx, bufsize, flags)? {
                    RecvPlan::Direct { len, deadline } => RecvReply::Direct {
                        os: Arc::clone(os),
                        intr: view.ctx.interrupt.clone(),
                        len,
                        deadline,
                    },
                    RecvPlan::Ordinary => RecvReply::Done(Ok(os.recv(view.ctx, bufsize, flags)?)),
                })
            })();
            Ok((match planned {
                Ok(reply) => reply,
                Err(e) => RecvReply::Done(Err(e.into_guest()?)),
            },))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// What the fast `recv` returns: a `result<list<u8>, error>` that the host lowers itself.
///
/// The canonical ABI allocates a returned list with the guest's `cabi_realloc` while lowering,
/// and only then is the guest's memory in reach. So the call plans the read (waiting for data
/// as recv does) and the lowering allocates the planned length, receives into it, and shrinks
/// the allocation to what arrived: one copy, kernel to guest, instead of two (kernel to host
/// buffer to guest).
///
/// This implements wasmtime's `ComponentType` and `Lower` by hand. They are public but
/// documented as internal; the wire format is delegated to wasmtime's own
/// `Result<list<u8>, error>`, so only the list's contents are produced here.
enum RecvReply {
    /// Received the ordinary way, or failed.
    Done(Result<Vec<u8>, Error>),
    /// Bytes are queued on `os`: receive up to `len` of them while lowering.
    Direct {
        os: Arc<OsSocket>,
        intr: InterruptHandle,
        len: usize,
        deadline: Deadline,
    },
}

/// The lowered form: a list the lowering already wrote into guest memory.
type Lowered = Result<GuestBytes, Error>;

impl RecvReply {
    /// Receives a planned read into memory from the guest's allocator.
    fn receive<U>(
        os: &OsSocket,
        intr: &InterruptHandle,
        len: usize,
        deadline: Deadline,
        cx: &mut LowerContext<'_, U>,
    ) -> wasmtime::Result<Lowered> {
        let ptr = cx.realloc(0, 0, 1, len)?;
        let got = loop {
            // `realloc` checked that `ptr..ptr + len` lies in memory.
            let buf = &mut cx.as_slice_mut()[ptr..ptr + len];
            match os.recv_queued(buf) {
                Ok(n) => break Ok(n),
                Err(rustix::io::Errno::INTR) => {}
                // Another reader of the socket (a process it was passed to) took the bytes
                // first: wait for more, as recv would.
                Err(rustix::io::Errno::AGAIN) => {
                    if let Err(e) = wait::wait(&os.os, Interest::Read, deadline, intr) {
                        break Err(e);
                    }
                }
                Err(e) => break Err(SocketError::from(e)),
            }
        };
        Ok(match got {
            Ok(n) if n == len => Ok(GuestBytes { ptr, len }),
            // The canonical ABI has no free and the guest frees a list by its length: shrink the
            // allocation to what arrived. Nothing (the end of the stream, or an error, after a
            // race with another reader) keeps one byte, as realloc cannot shrink to zero.
            Ok(n) => Ok(GuestBytes {
                ptr: cx.realloc(ptr, len, 1, n.max(1))?,
                len: n,
            }),
            Err(e) => {
                cx.realloc(ptr, len, 1, 1)?;
                Err(e.into_guest()?)
            }
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
            RecvReply::Direct {
                os,
                intr,
                len,
                deadline,
            } => Self::receive(os, intr, *len, *deadline, cx)?.linear_lower_to_flat(cx, ty, dst),
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
            RecvReply::Direct {
                os,
                intr,
                len,
                deadline,
            } => {
                Self::receive(os, intr, *len, *deadline, cx)?.linear_lower_to_memory(cx, ty, offset)
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
