//! Running a command component (a `wasm32-wasip2` program) with wasi and sockbox linked: what
//! `sockbox run` does, ready for embedders and tests to reuse.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;
use wasmtime::component::{Component, Linker, ResourceTable};

use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use crate::core::ctx::{SocketCtx, SocketCtxView, SocketView};

/// The store data of a command instance: wasi, sockbox, and the table they share.
pub struct State {
    /// wasi state (args, env, stdio, preopened directories).
    pub wasi: WasiCtx,
    /// sockbox state (policy, timeouts, preopened sockets).
    pub sockets: SocketCtx,
    /// Every resource of the instance: closing the store closes every socket.
    pub table: ResourceTable,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("sockets", &self.sockets)
            .finish_non_exhaustive()
    }
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

/// Who serves a guest's `wasi:sockets` imports (Rust std, wasi-libc, CPython's WASI `_socket`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WasiSockets {
    /// sockbox's core, under the instance's [`SocketCtx`] (policy, limits, interrupt): the
    /// default.
    #[default]
    Sockbox,
    /// wasmtime-wasi, under the `WasiCtx`'s own network switches, with its own `wasi:io/poll`
    /// on the synchronous host (for comparisons).
    WasmtimeWasi,
}

/// An engine and a linker with wasi and sockbox, made once and used for many runs.
pub struct Runner {
    engine: Engine,
    linker: Linker<State>,
    /// Stops the epoch ticker of [`Runner::with_deadlines`] when the runner drops.
    ticker: Option<Arc<AtomicBool>>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("deadlines", &self.ticker.is_some())
            .finish_non_exhaustive()
    }
}

/// How often the ticker of [`Runner::with_deadlines`] advances the engine's epoch.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// An epoch deadline that never comes, with room for the current epoch to be added to it.
const NO_DEADLINE: u64 = u64::MAX / 2;

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(stop) = &self.ticker {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

impl Runner {
    /// A runner on a default engine.
    pub fn new() -> wasmtime::Result<Self> {
        Self::with_engine(Engine::default())
    }

    /// A runner on `engine` (say, one with epoch interruption configured).
    pub fn with_engine(engine: Engine) -> wasmtime::Result<Self> {
        Self::with_wasi_sockets(engine, WasiSockets::Sockbox)
    }

    /// A runner on `engine` whose guests' `wasi:sockets` imports are served by `sockets`.
    pub fn with_wasi_sockets(engine: Engine, sockets: WasiSockets) -> wasmtime::Result<Self> {
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        if sockets == WasiSockets::Sockbox {
            crate::add_wasi_sockets_to_linker(&mut linker)?;
            crate::add_to_linker_sync(&mut linker)?;
        } else {
            // wasmtime-wasi's own `wasi:io/poll` too: the baseline the tests and the bench
            // compare with.
            crate::wit::add_interfaces_sync(&mut linker)?;
        }
        Ok(Runner {
            engine,
            linker,
            ticker: None,
        })
    }

    /// A runner whose engine counts epochs (a thread advances them every [`EPOCH_TICK`]), so
    /// that [`Instance::run_for`] can stop a guest at a deadline.
    pub fn with_deadlines() -> wasmtime::Result<Self> {
        Self::with_deadlines_on(Config::new())
    }

    /// [`with_deadlines`](Self::with_deadlines) on an engine made from `config` (say, one
    /// with wasmtime's compilation cache); epoch interruption is turned on in it.
    pub fn with_deadlines_on(config: Config) -> wasmtime::Result<Self> {
        let mut runner = Self::with_engine(epoch_engine(config)?)?;
        runner.ticker = Some(epoch_ticker(&runner.engine)?);
        Ok(runner)
    }

    /// The engine, to compile components with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a component from its bytes (a `.wasm` file's contents).
    pub fn compile(&self, wasm: &[u8]) -> wasmtime::Result<Component> {
        Component::new(&self.engine, wasm)
    }

    /// Compiles a component ahead of time into the bytes of a precompiled file (`.cwasm`),
    /// for [`load_precompiled`](Self::load_precompiled) on a runner made the same way.
    pub fn precompile(&self, wasm: &[u8]) -> wasmtime::Result<Vec<u8>> {
        self.engine.precompile_component(wasm)
    }

    /// Maps a file [`precompile`](Self::precompile) wrote: nothing is compiled, and its code
    /// and memory images are paged in from the file as used. A file made by another version
    /// of wasmtime or by an engine with other settings is refused.
    ///
    /// # Safety
    /// The file is trusted as native code: one crafted by hand (or changed while mapped) can
    /// do anything this process can. Load only files you made.
    pub unsafe fn load_precompiled(&self, path: &std::path::Path) -> wasmtime::Result<Component> {
        // SAFETY: the caller vouches for the file, as this function's contract says.
        unsafe { Component::deserialize_file(&self.engine, path) }
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
        if self.ticker.is_some() {
            // No deadline until run_for sets one (wasmtime adds the current epoch to it).
            store.set_epoch_deadline(NO_DEADLINE);
        }
        let command = Command::instantiate(&mut store, component, &self.linker)?;
        Ok(Instance { store, command })
    }
}

/// An engine that counts epochs (for deadlines).
fn epoch_engine(mut config: Config) -> wasmtime::Result<Engine> {
    config.epoch_interruption(true);
    Engine::new(&config)
}

/// A thread that advances `engine`'s epoch every [`EPOCH_TICK`] until the returned flag is set.
fn epoch_ticker(engine: &Engine) -> wasmtime::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let (engine, flag) = (engine.clone(), Arc::clone(&stop));
    std::thread::Builder::new()
        .name("sockbox-epoch".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })?;
    Ok(stop)
}

/// An instantiated command, ready to run once. Dropping it closes everything it had.
pub struct Instance {
    store: Store<State>,
    command: Command,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").finish_non_exhaustive()
    }
}

impl Instance {
    /// Runs with a time budget; needs a runner made by [`Runner::with_deadlines`]. When the
    /// budget runs out the guest is stopped wherever it is: spinning in wasm, the epoch
    /// deadline traps it; blocked in a sockbox call, the instance's interrupt handle wakes the
    /// call with `canceled`, and the epoch traps the guest as soon as it is back in wasm (if
    /// it does not return first). The result is then a trap, [`wasmtime::Trap::Interrupt`],
    /// also when the guest returned on its own after the deadline canceled its calls.
    pub fn run_for(mut self, budget: Duration) -> wasmtime::Result<i32> {
        let ticks = budget.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) + 1;
        self.store
            .set_epoch_deadline(u64::try_from(ticks).unwrap_or(NO_DEADLINE).min(NO_DEADLINE));
        self.store.epoch_deadline_trap();
        let interrupt = self.store.data().sockets.interrupt_handle();
        let (done, finished) = mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            let fired = finished.recv_timeout(budget) == Err(mpsc::RecvTimeoutError::Timeout);
            if fired {
                interrupt.interrupt();
            }
            fired
        });
        let result = self.run_inner();
        drop(done);
        match (result, watchdog.join()) {
            // The guest returned, but only after its calls were canceled at the deadline.
            (Ok(_), Ok(true)) => Err(wasmtime::Trap::Interrupt.into()),
            (result, _) => result,
        }
    }

    /// Runs `wasi:cli/run` to completion: the exit code as [`Runner::run`] gives it.
    pub fn run(mut self) -> wasmtime::Result<i32> {
        self.run_inner()
    }

    fn run_inner(&mut self) -> wasmtime::Result<i32> {
        exit_code(self.command.wasi_cli_run().call_run(&mut self.store))
    }
}

/// [`Runner`]'s async counterpart: a linker made with
/// [`crate::add_to_linker_async`], so that many guests run on one thread of a tokio runtime,
/// each suspended (not blocking the thread) while it waits on a socket.
pub struct AsyncRunner {
    engine: Engine,
    linker: Linker<State>,
    /// Stops the epoch ticker of [`AsyncRunner::with_deadlines`] when the runner drops.
    ticker: Option<Arc<AtomicBool>>,
}

impl Drop for AsyncRunner {
    fn drop(&mut self) {
        if let Some(stop) = &self.ticker {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

impl std::fmt::Debug for AsyncRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRunner").finish_non_exhaustive()
    }
}

impl AsyncRunner {
    /// A runner on a default engine (wasmtime 48 needs no async switch).
    pub fn new() -> wasmtime::Result<Self> {
        Self::with_engine(Engine::default())
    }

    /// A runner on `engine`: one engine can serve a [`Runner`] and an `AsyncRunner`, so a
    /// component compiled once runs on both hosts.
    pub fn with_engine(engine: Engine) -> wasmtime::Result<Self> {
        Self::with_wasi_sockets(engine, WasiSockets::Sockbox)
    }

    /// A runner on `engine` whose guests' `wasi:sockets` imports are served by `sockets`.
    pub fn with_wasi_sockets(engine: Engine, sockets: WasiSockets) -> wasmtime::Result<Self> {
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        if sockets == WasiSockets::Sockbox {
            crate::add_wasi_sockets_to_linker(&mut linker)?;
        }
        crate::add_to_linker_async(&mut linker)?;
        Ok(AsyncRunner {
            engine,
            linker,
            ticker: None,
        })
    }

    /// A runner whose guests yield to the runtime at every epoch tick (a thread advances
    /// them every [`EPOCH_TICK`]), so that [`AsyncInstance::run_for`] can stop a guest at a
    /// deadline whatever it does: spin in wasm, wait on a socket, sleep on a wasi clock or
    /// read stdin.
    pub fn with_deadlines() -> wasmtime::Result<Self> {
        Self::with_deadlines_on(Config::new())
    }

    /// [`with_deadlines`](Self::with_deadlines) on an engine made from `config`; epoch
    /// interruption is turned on in it.
    pub fn with_deadlines_on(config: Config) -> wasmtime::Result<Self> {
        let mut runner = Self::with_engine(epoch_engine(config)?)?;
        runner.ticker = Some(epoch_ticker(&runner.engine)?);
        Ok(runner)
    }

    /// The engine, to compile components with.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compiles a component from its bytes.
    pub fn compile(&self, wasm: &[u8]) -> wasmtime::Result<Component> {
        Component::new(&self.engine, wasm)
    }

    /// As [`Runner::precompile`].
    pub fn precompile(&self, wasm: &[u8]) -> wasmtime::Result<Vec<u8>> {
        self.engine.precompile_component(wasm)
    }

    /// As [`Runner::load_precompiled`].
    ///
    /// # Safety
    /// As [`Runner::load_precompiled`]: the file is trusted as native code.
    pub unsafe fn load_precompiled(&self, path: &std::path::Path) -> wasmtime::Result<Component> {
        // SAFETY: the caller vouches for the file, as this function's contract says.
        unsafe { Component::deserialize_file(&self.engine, path) }
    }

    /// Instantiates the command and runs its `wasi:cli/run` to completion, asynchronously:
    /// the exit code as [`Runner::run`] gives it.
    pub async fn run(
        &self,
        component: &Component,
        wasi: WasiCtx,
        sockets: SocketCtx,
    ) -> wasmtime::Result<i32> {
        self.instantiate(component, wasi, sockets)
            .await?
            .run()
            .await
    }

    /// Instantiates the command without running it (to time or schedule the run apart).
    pub async fn instantiate(
        &self,
        component: &Component,
        wasi: WasiCtx,
        sockets: SocketCtx,
    ) -> wasmtime::Result<AsyncInstance> {
        let state = State {
            wasi,
            sockets,
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, state);
        if self.ticker.is_some() {
            store.epoch_deadline_async_yield_and_update(1);
        }
        let command = wasmtime_wasi::p2::bindings::Command::instantiate_async(
            &mut store,
            component,
            &self.linker,
        )
        .await?;
        Ok(AsyncInstance { store, command })
    }
}

/// An instantiated command on the async host, ready to run once. Dropping it closes
/// everything it had.
pub struct AsyncInstance {
    store: Store<State>,
    command: wasmtime_wasi::p2::bindings::Command,
}

impl std::fmt::Debug for AsyncInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncInstance").finish_non_exhaustive()
    }
}

impl AsyncInstance {
    /// Runs `wasi:cli/run` to completion: the exit code as [`Runner::run`] gives it.
    pub async fn run(mut self) -> wasmtime::Result<i32> {
        exit_code(self.command.wasi_cli_run().call_run(&mut self.store).await)
    }

    /// Runs with a time budget; needs a runner made by [`AsyncRunner::with_deadlines`] (so a
    /// spinning guest yields). When the budget runs out the run is dropped wherever the guest
    /// is, which closes everything it had, and the result is [`wasmtime::Trap::Interrupt`].
    pub async fn run_for(self, budget: Duration) -> wasmtime::Result<i32> {
        let interrupt = self.store.data().sockets.interrupt_handle();
        match tokio::time::timeout(budget, self.run()).await {
            Ok(done) => done,
            Err(_) => {
                interrupt.interrupt();
                Err(wasmtime::Trap::Interrupt.into())
            }
        }
    }
}

/// The exit code of a finished `wasi:cli/run`: 0 for Ok, 1 for Err, N for `exit(N)`; a trap
/// stays an error.
fn exit_code(run: wasmtime::Result<Result<(), ()>>) -> wasmtime::Result<i32> {
    match run {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None => Err(e),
        },
    }
}
