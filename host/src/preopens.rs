//! `preopens`: sockets the embedder opened for the guest.

use wasmtime::component::Resource;

use crate::bindings::sockbox::socket::preopens::Host;
use crate::ctx::SocketCtxView;
use crate::socket::Socket;

impl Host for SocketCtxView<'_> {
    fn get_sockets(&mut self) -> wasmtime::Result<Vec<(Resource<Socket>, String)>> {
        let mut out = Vec::with_capacity(self.ctx.preopens.len());
        for (name, os) in &self.ctx.preopens {
            // A fresh handle per call (like wasi's get-directories): the guest may close its
            // copy without losing the listener. A failed dup is the host's problem: trap.
            let sock = Socket::adopt(os.try_clone()?, self.ctx.default_timeout)
                .map_err(|e| wasmtime::format_err!("adopting preopen {name}: {e}"))?;
            out.push((self.table.push(sock)?, name.clone()));
        }
        Ok(out)
    }
}
