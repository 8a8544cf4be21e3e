//! Running a command component (a `wasm32-wasip2` program) with wasi and sockbox linked: what
//! `sockbox run` does, ready for embedders and tests to reuse.

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::ctx::{SocketCtx, SocketCtxView, SocketView};

/// The store data of a command instance: wasi, sockbox, and the table they share.
pub struct State {
    /// wasi state (args, env, stdio, preopened directories).
    pub wasi: WasiCtx,
    /// sockbox state (policy, timeouts, preopened sockets).
    pub sockets: SocketCtx,
    /// Every resource of the instance: closing the store closes every socket.
    pub table: ResourceTable,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl SocketView for State {
    fn socket_ctx(&mut self) -> SocketCtxView<'_> {
        SocketCtxView {
            ctx: &mut self.sockets,
            table: &mut self.table,
        }
    }
}

/// An engine and a linker with wasi and sockbox, made once and used for many runs.
pub struct Runner {
    engine: Engine,
    linker: Linker<State>,
}

impl Runner {
    /// A runner on a default engine.
    pub fn new() -> wasmtime::Result<Self> {
        Self::with_engine(Engine::default())
    }

    /// A runner on `engine` (say, one with epoch interruption configured).
    pub fn with_engine(engine: Engine) -> wasmtime::Result<Self> {
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        crate::add_to_linker_sync(&mut linker)?;
        Ok(Runner { engine, linker })
    }

    /// The engine, to compile components with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a component from its bytes (a `.wasm` file's contents).
    pub fn compile(&self, wasm: &[u8]) -> wasmtime::Result<Component> {
        Component::new(&self.engine, wasm)
    }

    /// Runs the command's `wasi:cli/run` to completion and returns its exit code: 0 when it
    /// returned Ok, 1 when it returned Err, N for `exit(N)`. A trap is an error.
    pub fn run(
        &self,
        component: &Component,
        wasi: WasiCtx,
        sockets: SocketCtx,
    ) -> wasmtime::Result<i32> {
        self.instantiate(component, wasi, sockets)?.run()
    }

    /// Instantiates the command without running it (to time or schedule the run apart).
    pub fn instantiate(
        &self,
        component: &Component,
        wasi: WasiCtx,
        sockets: SocketCtx,
    ) -> wasmtime::Result<Instance> {
        let state = State {
            wasi,
            sockets,
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, state);
        let command = Command::instantiate(&mut store, component, &self.linker)?;
        Ok(Instance { store, command })
    }
}

/// An instantiated command, ready to run once. Dropping it closes everything it had.
pub struct Instance {
    store: Store<State>,
    command: Command,
}

impl Instance {
    /// Runs `wasi:cli/run` to completion: the exit code as [`Runner::run`] gives it.
    pub fn run(mut self) -> wasmtime::Result<i32> {
        match self.command.wasi_cli_run().call_run(&mut self.store) {
            Ok(Ok(())) => Ok(0),
            Ok(Err(())) => Ok(1),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => Ok(exit.0),
                None => Err(e),
            },
        }
    }
}
