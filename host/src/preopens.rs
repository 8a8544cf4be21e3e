//! `preopens`: sockets the embedder opened for the guest.

use wasmtime::component::Resource;

use crate::bindings::sockbox::socket::preopens::Host;
use crate::ctx::SocketCtxView;
use crate::error::SocketError;
use crate::socket::Socket;

impl Host for SocketCtxView<'_> {
    fn get_sockets(&mut self) -> Result<Vec<(Resource<Socket>, String)>, SocketError> {
        let mut out = Vec::with_capacity(self.ctx.preopens.len());
        for i in 0..self.ctx.preopens.len() {
            let slot = self.ctx.slot()?;
            // A fresh handle per call (like wasi's get-directories): the guest may close its
            // copy without losing the listener.
            let (name, os) = &self.ctx.preopens[i];
            let name = name.clone();
            let sock = Socket::adopt(os.try_clone()?, self.ctx.default_timeout, slot)?;
            out.push((self.push_socket(sock)?, name));
        }
        Ok(out)
    }
}
