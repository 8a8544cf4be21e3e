//! The harness of the integration tests: run a guest program (built to wasm by `build.rs`) in
//! the real host with a policy and preopened sockets, and native loopback peers to talk to.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};

use sockbox_host::resolver::{AddrInfo, AddrInfoHints, LookupError, Resolver, SystemResolver};
use sockbox_host::run::{AsyncRunner, Runner};
use sockbox_host::{Policy, SocketCtx, SocketCtxBuilder};
use wasmtime::component::Component;
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

pub mod python;

/// One engine and linker for every test of a binary.
pub fn runner() -> &'static Runner {
    static RUNNER: OnceLock<Runner> = OnceLock::new();
    RUNNER.get_or_init(|| Runner::new().expect("runner"))
}

/// The async host on the same engine as [`runner`], so compiled components serve both.
pub fn async_runner() -> &'static AsyncRunner {
    static RUNNER: OnceLock<AsyncRunner> = OnceLock::new();
    RUNNER.get_or_init(|| AsyncRunner::with_engine(runner().engine().clone()).expect("runner"))
}

/// The host a behaviour test runs its guests on: every suite runs on both (see
/// [`both_hosts!`]), with the same expected answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// `add_to_linker_sync`: a waiting call blocks its thread in poll(2).
    Sync,
    /// `add_to_linker_async`: a waiting call suspends the guest on a current-thread tokio
    /// runtime.
    Async,
}

thread_local! {
    static HOST: Cell<Host> = const { Cell::new(Host::Sync) };
}

/// The host guests of this test thread run on.
pub fn current_host() -> Host {
    HOST.with(Cell::get)
}

/// Runs `test` with the guests it starts on this thread on `host` (a thread it spawns
/// starts on [`Host::Sync`]: pass `current_host()` along).
pub fn on_host<R>(host: Host, test: impl FnOnce() -> R) -> R {
    HOST.with(|h| h.set(host));
    test()
}

/// Makes each named test function (a plain `fn()`, not `#[test]`) a pair of tests, `NAME::sync`
/// and `NAME::async_host`, that run it with its guests on each host. A behaviour test left out
/// is dead code, which the lints refuse: no test can miss its pairing.
#[macro_export]
macro_rules! both_hosts {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sync() {
                    $crate::on_host($crate::Host::Sync, super::$name);
                }

                #[test]
                fn async_host() {
                    $crate::on_host($crate::Host::Async, super::$name);
                }
            }
        )*
    };
}

/// The compiled component of guest program `name` (`cases`, `echo-server`, ...), compiled once
/// per test binary.
pub fn component(name: &str) -> Component {
    static CACHE: OnceLock<Mutex<HashMap<String, Component>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(name.to_string())
        .or_insert_with(|| {
            let path = format!("{}/{name}.wasm", env!("SOCKBOX_GUESTS_DIR"));
            let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            runner().compile(&wasm).expect("compile")
        })
        .clone()
}

/// The compiled component of Python module `module` in `app_dir` (see [`python::build`]),
/// built and compiled once per test binary.
pub fn python_component(app_dir: &str, module: &str) -> Component {
    python_component_with(app_dir, module, &[])
}

/// [`python_component`] with PyPI packages on the path (see [`python::build_with`]).
pub fn python_component_with(app_dir: &str, module: &str, packages: &[String]) -> Component {
    type Slot = std::sync::Arc<OnceLock<Component>>;
    static CACHE: OnceLock<Mutex<HashMap<String, Slot>>> = OnceLock::new();
    // One slot per guest, filled by the first test to need it while the others wait for it.
    let slot = Slot::clone(
        CACHE
            .get_or_init(Default::default)
            .lock()
            .unwrap()
            .entry(format!("{app_dir}/{module}"))
            .or_default(),
    );
    slot.get_or_init(|| {
        let wasm =
            std::fs::read(python::build_with(app_dir, module, packages)).expect("python component");
        runner().compile(&wasm).expect("compile")
    })
    .clone()
}

/// What a guest run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code (0: `main` returned Ok).
    pub code: i32,
    /// Everything the guest printed to stdout (as text).
    pub stdout: String,
    /// Everything the guest printed to stdout, byte for byte.
    pub raw_stdout: Vec<u8>,
    /// Everything the guest printed to stderr.
    pub stderr: String,
}

impl Outcome {
    /// The text after `label: ` on the first stdout line that starts so.
    ///
    /// # Panics
    /// When there is no such line (with the whole output, for the test log).
    pub fn line(&self, label: &str) -> &str {
        let prefix = format!("{label}: ");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {label:?} line in guest output:\n{self}"))
    }

    /// Asserts the guest exited 0.
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, 0, "guest failed:\n{self}");
        self
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs guest program `name` with `args` and the sockbox state `ctx`.
pub fn run_with(name: &str, args: &[&str], ctx: SocketCtx) -> Outcome {
    run_full(name, args, ctx, &[])
}

/// Runs guest program `name` with `args`, the sockbox state `ctx`, and host directories
/// preopened for it (`(host path, guest path)`).
pub fn run_full(name: &str, args: &[&str], ctx: SocketCtx, dirs: &[(&Path, &str)]) -> Outcome {
    run_component(&component(name), name, args, ctx, dirs)
}

/// The captured stdout and stderr of a guest run (see [`captured_wasi`]).
#[derive(Debug)]
pub struct Captured {
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Captured {
    /// What the run produced, given its exit code.
    pub fn outcome(&self, code: i32) -> Outcome {
        let text = |p: &MemoryOutputPipe| String::from_utf8_lossy(&p.contents()).into_owned();
        Outcome {
            code,
            stdout: text(&self.stdout),
            raw_stdout: self.stdout.contents().to_vec(),
            stderr: text(&self.stderr),
        }
    }
}

/// The WASI context of program `name` with `args` and host directories preopened for it
/// (`(host path, guest path)`), its stdout and stderr captured.
pub fn captured_wasi(name: &str, args: &[&str], dirs: &[(&Path, &str)]) -> (WasiCtx, Captured) {
    let (mut wasi, captured) = captured_wasi_builder(name, args, dirs);
    (wasi.build(), captured)
}

/// [`captured_wasi`], not built yet.
pub fn captured_wasi_builder(
    name: &str,
    args: &[&str],
    dirs: &[(&Path, &str)],
) -> (wasmtime_wasi::WasiCtxBuilder, Captured) {
    let captured = Captured {
        stdout: MemoryOutputPipe::new(1 << 20),
        stderr: MemoryOutputPipe::new(1 << 20),
    };
    let mut wasi = WasiCtx::builder();
    wasi.arg(name)
        .args(args)
        .stdout(captured.stdout.clone())
        .stderr(captured.stderr.clone());
    for (host, guest) in dirs {
        wasi.preopened_dir(host, guest, wasmtime_wasi::FsPerms::ReadWrite)
            .expect("preopened dir");
    }
    (wasi, captured)
}

/// Runs guest program `name` on wasmtime-wasi's own `wasi:sockets`, with the whole network
/// open to it (the reference the tests compare sockbox's `wasi:sockets` with).
pub fn run_on_wasmtime_sockets(name: &str, args: &[&str]) -> Outcome {
    static RUNNER: OnceLock<Runner> = OnceLock::new();
    let runner = RUNNER.get_or_init(|| {
        Runner::with_wasi_sockets(
            runner().engine().clone(),
            sockbox_host::run::WasiSockets::WasmtimeWasi,
        )
        .expect("runner")
    });
    let (mut wasi, captured) = captured_wasi_builder(name, args, &[]);
    wasi.inherit_network()
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(true);
    let ctx = SocketCtx::builder().build().expect("socket ctx");
    match runner.run(&component(name), wasi.build(), ctx) {
        Ok(code) => captured.outcome(code),
        Err(e) => panic!(
            "guest {name} {args:?} trapped on wasmtime-wasi: {e:?}\n{}",
            captured.outcome(-1)
        ),
    }
}

/// Runs `component` as program `name` with `args`, the sockbox state `ctx`, and host
/// directories preopened for it (`(host path, guest path)`).
pub fn run_component(
    component: &Component,
    name: &str,
    args: &[&str],
    ctx: SocketCtx,
    dirs: &[(&Path, &str)],
) -> Outcome {
    let (wasi, captured) = captured_wasi(name, args, dirs);
    let host = current_host();
    let code = match host {
        Host::Sync => runner().run(component, wasi, ctx),
        Host::Async => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime")
            .block_on(async_runner().run(component, wasi, ctx)),
    }
    .unwrap_or_else(|e| panic!("guest {name} {args:?} trapped on the {host:?} host: {e:?}"));
    captured.outcome(code)
}

/// Runs a test case of the `cases` guest under `ctx`.
pub fn case(args: &[&str], ctx: SocketCtxBuilder) -> Outcome {
    run_with("cases", args, ctx.build().expect("socket ctx"))
}

/// Runs a test case of the `unix` guest (Unix-domain, fd passing, sendfile, share).
pub fn unix_case(args: &[&str], ctx: SocketCtxBuilder) -> Outcome {
    run_with("unix", args, ctx.build().expect("socket ctx"))
}

/// Runs a test case of the `surface` guest (the socket.py surface) under `ctx`.
pub fn surface(args: &[&str], ctx: SocketCtxBuilder) -> Outcome {
    run_with("surface", args, ctx.build().expect("socket ctx"))
}

/// A context builder with this policy.
pub fn with_policy(policy: Policy) -> SocketCtxBuilder {
    SocketCtx::builder().policy(policy)
}

/// A context builder whose policy allows connecting to `127.0.0.1:port` and nothing else.
pub fn allowing_connect(port: u16) -> SocketCtxBuilder {
    with_policy(policy(&[&format!("connect 127.0.0.1:{port}")]))
}

/// A context builder whose policy has these rules (in [`policy`]'s form, owned strings).
pub fn with_rules(rules: &[String]) -> SocketCtxBuilder {
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    with_policy(policy(&rules))
}

/// A policy from rules in flag form: `["connect 127.0.0.1:80", "lookup localhost",
/// "unix /tmp/x/*", "fd-passing"]`.
pub fn policy(rules: &[&str]) -> Policy {
    let mut b = Policy::builder();
    for r in rules {
        let (kind, rule) = r.split_once(' ').unwrap_or((r, ""));
        b = match kind {
            "connect" => b.allow_connect(rule),
            "bind" => b.allow_bind(rule),
            "lookup" => b.allow_lookup(rule),
            "accept" => b.allow_accept(rule),
            "unix" => b.allow_unix(rule),
            "fd-passing" => Ok(b.allow_fd_passing()),
            _ => panic!("unknown rule kind {kind}"),
        }
        .expect("rule");
    }
    b.build()
}

/// A native TCP echo server on `addr` (port 0 picks one), serving each connection in a thread.
pub fn echo_server(addr: &str) -> SocketAddr {
    let listener = TcpListener::bind(addr).expect("bind echo server");
    let local = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    if conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    local
}

/// A native UDP echo peer on `addr`: answers each datagram to its sender.
pub fn udp_echo(addr: &str) -> SocketAddr {
    let sock = UdpSocket::bind(addr).expect("bind udp echo");
    let local = sock.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n], from);
        }
    });
    local
}

/// A native TCP server on `addr` that accepts connections and holds them open, silent.
pub fn silent_server(addr: &str) -> SocketAddr {
    let listener = TcpListener::bind(addr).expect("bind silent server");
    let local = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    local
}

/// A listening socket for a preopen, as `sockbox run --listen` makes one.
pub fn preopen_listener(addr: &str) -> (socket2::Socket, SocketAddr) {
    let sa: SocketAddr = addr.parse().expect("address");
    let s = socket2::Socket::new(
        socket2::Domain::for_address(sa),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&sa.into()).expect("bind preopen");
    // Room for every client a test connects before the guest accepts, on a loaded machine.
    s.listen(256).unwrap();
    let local = s.local_addr().unwrap().as_socket().unwrap();
    (s, local)
}

/// A port on 127.0.0.1 where nothing listens: bound but not listening, so connects are refused
/// and no other test can take the port while the returned socket lives.
pub fn closed_port() -> (socket2::Socket, u16) {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    s.bind(&any.into()).unwrap();
    let port = s.local_addr().unwrap().as_socket().unwrap().port();
    (s, port)
}

/// How many descriptors this process has open.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The descriptor count once it has held still for 200 ms (native peers close their ends of
/// finished connections on their own threads), or after 10 s.
pub fn settled_fd_count() -> usize {
    let mut last = fd_count();
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = fd_count();
        if now == last {
            return now;
        }
        last = now;
    }
    last
}

/// The thread that interrupts a guest once it says, over its control connection, that it is
/// blocking (see [`blocked_call`]).
#[derive(Debug)]
pub struct Interrupter(std::thread::JoinHandle<(std::time::Duration, [u8; 8])>);

impl Interrupter {
    /// How long after `interrupt()` the guest's next word came, and the word (`canceled` when
    /// its call failed with ECANCELED).
    pub fn woke(self) -> (std::time::Duration, [u8; 8]) {
        self.0.join().unwrap()
    }
}

/// A run of the `policy` guest that blocks in one `call` (`block CALL CONTROL TARGET`) against
/// `target`, a peer that never answers: the context to run it with (connect to the control
/// port and `target`, bind, fd passing, a preopened listener for `accept`), its arguments
/// after the program name, and the thread that interrupts it.
pub fn blocked_call(call: &str, target: SocketAddr) -> (SocketCtx, Vec<String>, Interrupter) {
    let control = TcpListener::bind("127.0.0.1:0").unwrap();
    let control_port = control.local_addr().unwrap().port();
    let (listener, local) = preopen_listener("127.0.0.1:0");
    let ctx = with_policy(policy(&[
        &format!("connect 127.0.0.1:{control_port}"),
        &format!("connect 127.0.0.1:{}", target.port()),
        "bind 127.0.0.1:0",
        "fd-passing",
        "lookup *.test",
        "lookup 192.0.2.0/24",
    ]))
    .preopen(local.to_string(), listener)
    .resolver(SilentResolver)
    .build()
    .unwrap();
    let handle = ctx.interrupt_handle();
    let waker = std::thread::spawn(move || {
        let (mut ctl, _) = control.accept().unwrap();
        let mut word = [0u8; 8];
        ctl.read_exact(&mut word).unwrap();
        assert_eq!(&word, b"blocking");
        // Let the guest get into its wait.
        std::thread::sleep(std::time::Duration::from_millis(150));
        let at = std::time::Instant::now();
        handle.interrupt();
        ctl.read_exact(&mut word).unwrap();
        (at.elapsed(), word)
    });
    let args = vec![
        "block".to_string(),
        call.to_string(),
        control_port.to_string(),
        target.port().to_string(),
    ];
    (ctx, args, Interrupter(waker))
}

/// A resolver that never answers a name in time, like a zone whose servers drop every query:
/// it holds its thread for a minute, then fails with EAI_AGAIN. Numeric queries are answered
/// by the system's resolver.
#[derive(Debug)]
pub struct SilentResolver;

impl Resolver for SilentResolver {
    fn getaddrinfo(
        &self,
        host: Option<&str>,
        service: Option<&str>,
        hints: AddrInfoHints,
    ) -> Result<Vec<AddrInfo>, LookupError> {
        if host.is_some_and(|h| h.parse::<std::net::IpAddr>().is_err()) {
            std::thread::sleep(std::time::Duration::from_secs(60));
            return Err(LookupError::new(libc::EAI_AGAIN));
        }
        SystemResolver.getaddrinfo(host, service, hints)
    }

    fn getnameinfo(
        &self,
        address: SocketAddr,
        flags: i32,
    ) -> Result<(String, String), LookupError> {
        if flags & libc::NI_NUMERICHOST == 0 {
            std::thread::sleep(std::time::Duration::from_secs(60));
            return Err(LookupError::new(libc::EAI_AGAIN));
        }
        SystemResolver.getnameinfo(address, flags)
    }
}

/// Sends `fds` with `data` over `sock` (SCM_RIGHTS).
pub fn send_fds(sock: &impl AsFd, data: &[u8], fds: &[std::os::fd::BorrowedFd<'_>]) {
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
    rustix::net::sendmsg(
        sock,
        &[IoSlice::new(data)],
        &mut control,
        SendFlags::empty(),
    )
    .unwrap();
}

/// Receives data and descriptors (SCM_RIGHTS).
pub fn recv_fds(sock: &impl AsFd) -> (Vec<u8>, Vec<OwnedFd>) {
    let mut data = vec![0u8; 64];
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(8))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = rustix::net::recvmsg(
        sock,
        &mut [IoSliceMut::new(&mut data)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )
    .unwrap();
    data.truncate(msg.bytes);
    let mut fds = Vec::new();
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(r) = m {
            fds.extend(r);
        }
    }
    (data, fds)
}

/// The whole contents of a file descriptor, read from its start.
pub fn read_at_start(fd: OwnedFd) -> String {
    let mut f = std::fs::File::from(fd);
    let mut s = String::new();
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0)).unwrap();
    f.read_to_string(&mut s).unwrap();
    s
}

/// A server program of the machine's (redis-server, mosquitto, nginx, PostgreSQL) on a free
/// loopback port, stopped when dropped.
#[derive(Debug)]
pub struct LocalServer {
    child: std::process::Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl LocalServer {
    /// A redis-server, also on the Unix socket `unix` (see [`start`](Self::start)).
    pub fn redis(unix: &Path) -> Option<LocalServer> {
        let unix = unix.display().to_string();
        Self::start("redis-server", |port| {
            let mut args = vec!["--port".to_string(), port.to_string()];
            args.extend(["--unixsocket".to_string(), unix.clone()]);
            args.extend(
                ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
                    .into_iter()
                    .chain(["--protected-mode", "no"])
                    .map(String::from),
            );
            args
        })
    }

    /// A mosquitto MQTT broker (see [`start`](Self::start)); without a configuration file it
    /// serves loopback clients only, anonymously.
    pub fn mosquitto() -> Option<LocalServer> {
        Self::start("mosquitto", |port| vec!["-p".to_string(), port.to_string()])
    }

    /// An nginx serving `root` (static files, gzip for text, `POST /post` answered without a
    /// file), its configuration and temporary files in `state` (see [`start`](Self::start)).
    pub fn nginx(root: &Path, state: &Path) -> Option<LocalServer> {
        let (root, state) = (root.to_path_buf(), state.to_path_buf());
        Self::start("nginx", move |port| {
            let s = state.display();
            let config = format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {s}/nginx.pid;\n\
                 error_log {s}/error.log;\nevents {{ worker_connections 64; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {s}/body;\n\
                 proxy_temp_path {s}/proxy;\n  fastcgi_temp_path {s}/fastcgi;\n\
                 uwsgi_temp_path {s}/uwsgi;\n  scgi_temp_path {s}/scgi;\n\
                 gzip on;\n  gzip_min_length 1;\n  gzip_types text/plain;\n\
                 types {{ text/plain txt; application/octet-stream bin; }}\n\
                 server {{\n    listen 127.0.0.1:{port};\n    root {};\n\
                 location = /post {{ return 200 \"posted\\n\"; }}\n  }}\n}}\n",
                root.display()
            );
            let file = state.join("nginx.conf");
            std::fs::write(&file, config).expect("nginx.conf");
            vec![
                "-e".to_string(),
                state.join("error.log").display().to_string(),
                "-c".to_string(),
                file.display().to_string(),
            ]
        })
    }

    /// A PostgreSQL server with a fresh cluster in `state` (an empty directory): user
    /// `sockbox` with `password` (scram-sha-256 for TCP and the Unix socket alike), listening
    /// on 127.0.0.1 and on the Unix socket [`postgres_socket`](Self::postgres_socket)`(state)`,
    /// with TLS when `tls` gives a certificate and key (PEM). Run as root, it runs as the
    /// `postgres` user (PostgreSQL refuses root), which then owns `state`. `None` or a failure
    /// as [`start`](Self::start) says.
    pub fn postgres(
        state: &Path,
        password: &str,
        tls: Option<(&str, &str)>,
    ) -> Option<LocalServer> {
        // Debian keeps the server's programs off PATH, in /usr/lib/postgresql/VERSION/bin.
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|bin| bin.join("postgres").exists())
            .max();
        let Some(bin) = bin else {
            return Self::missing("postgresql", "no /usr/lib/postgresql/*/bin/postgres");
        };
        let owner = rustix::process::geteuid().is_root().then(|| {
            let id = |flag| {
                let out = std::process::Command::new("id")
                    .args([flag, "postgres"])
                    .output()
                    .expect("id");
                assert!(out.status.success(), "no postgres user: {out:?}");
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
            };
            (id("-u"), id("-g"))
        });
        let mut files = vec![("password", password)];
        files.extend(
            tls.map(|(cert, key)| [("server.crt", cert), ("server.key", key)])
                .into_iter()
                .flatten(),
        );
        for (name, text) in files {
            let file = state.join(name);
            std::fs::write(&file, text).unwrap();
            // PostgreSQL refuses a key others may read.
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        }
        let command = |program: &str| {
            let mut cmd = std::process::Command::new(bin.join(program));
            if let Some((uid, gid)) = owner {
                std::os::unix::process::CommandExt::uid(&mut cmd, uid);
                std::os::unix::process::CommandExt::gid(&mut cmd, gid);
            }
            cmd
        };
        if let Some((uid, gid)) = owner {
            for entry in std::fs::read_dir(state).unwrap() {
                std::os::unix::fs::chown(entry.unwrap().path(), Some(uid), Some(gid)).unwrap();
            }
            std::os::unix::fs::chown(state, Some(uid), Some(gid)).unwrap();
        }
        let init = command("initdb")
            .arg("-D")
            .arg(state.join("data"))
            .args([
                "-U",
                "sockbox",
                "--auth=scram-sha-256",
                "--no-sync",
                "--pwfile",
            ])
            .arg(state.join("password"))
            .output()
            .expect("initdb");
        assert!(init.status.success(), "initdb: {init:?}");
        let server = Self::launch("postgres", |port| {
            let mut cmd = command("postgres");
            cmd.arg("-D")
                .arg(state.join("data"))
                .arg("-k")
                .arg(state)
                .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "fsync=off"])
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(state.join("server.log"))?);
            if tls.is_some() {
                cmd.args(["-c", "ssl=on", "-c"])
                    .arg(format!(
                        "ssl_cert_file={}",
                        state.join("server.crt").display()
                    ))
                    .arg("-c")
                    .arg(format!(
                        "ssl_key_file={}",
                        state.join("server.key").display()
                    ));
            }
            cmd.spawn()
        })?;
        // It accepts connections before it takes them (57P03, "starting up").
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !std::fs::read_to_string(state.join("server.log"))
            .unwrap_or_default()
            .contains("ready to accept connections")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "postgres did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(server)
    }

    /// The Unix socket of [`postgres`](Self::postgres) started with `state`.
    pub fn postgres_socket(&self, state: &Path) -> std::path::PathBuf {
        state.join(format!(".s.PGSQL.{}", self.port))
    }

    /// Starts `program` with the arguments `args(port)` gives and waits until it accepts
    /// connections. `None` when the machine lacks the program, unless
    /// `SOCKBOX_REQUIRE_SERVERS` is set (as `.ci/run` sets it): then that is a failure.
    pub fn start(program: &str, args: impl Fn(u16) -> Vec<String>) -> Option<LocalServer> {
        Self::launch(program, |port| {
            let spawn = |path: &str| {
                std::process::Command::new(path)
                    .args(args(port))
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
            };
            // Daemons (mosquitto) install into /usr/sbin, which a user's PATH may lack.
            spawn(program).or_else(|_| spawn(&format!("/usr/sbin/{program}")))
        })
    }

    /// Runs `spawn(port)` with a free loopback port and waits until the child accepts
    /// connections on it (see [`start`](Self::start)).
    fn launch(
        program: &str,
        spawn: impl FnOnce(u16) -> std::io::Result<std::process::Child>,
    ) -> Option<LocalServer> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = match spawn(port) {
            Ok(child) => child,
            Err(e) => return Self::missing(program, &e.to_string()),
        };
        let server = LocalServer { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "{program} did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Some(server)
    }

    /// `None` (the test skips) for a server the machine lacks, or a failure when
    /// `SOCKBOX_REQUIRE_SERVERS` is set.
    fn missing(program: &str, why: &str) -> Option<LocalServer> {
        assert!(
            std::env::var_os("SOCKBOX_REQUIRE_SERVERS").is_none(),
            "{program}: {why}"
        );
        println!("skipped: no {program} ({why}); apt install {program}");
        None
    }
}

impl Drop for LocalServer {
    /// Asks the server to stop (SIGINT: a fast shutdown that cleans up, for PostgreSQL its
    /// shared memory too), and kills it if it has not within five seconds.
    fn drop(&mut self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
