//! Zero-copy send paths. The generated bindings lift a `list<u8>` argument into a fresh
//! `Vec<u8>` (an allocation and a copy per call); these definitions of `send` and `sendall`
//! shadow them and hand the bytes to send(2) straight from the guest's memory
//! (`WasmList::as_le_slice`). Same semantics, same errors.

use std::sync::Arc;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, WasmList};

use crate::SocketView;
use crate::bindings::sockbox::socket::types::{Error, MsgFlags};
use crate::error::SocketError;
use crate::socket::{OsSocket, Socket};
use crate::wait::InterruptHandle;

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

/// Shadows `[method]socket.send` and `[method]socket.sendall` with the zero-copy versions.
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
    linker.allow_shadowing(false);
    Ok(())
}
