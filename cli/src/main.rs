//! `sockbox`: run a wasm command component with wasi and sockbox sockets under a policy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use sockbox_cli::python;

mod compiled;
use sockbox_host::plugin_files::PluginFiles;
use sockbox_host::run::{AsyncRunner, Runner};
use sockbox_host::{Limits, Policy, PolicyFile, SocketCtx, TlsFile};
use socket2::{Domain, Socket, Type};
use wasmtime_wasi::{FsPerms, WasiCtx};

/// Python's socket module for WebAssembly sandboxes.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command component (a wasm32-wasip2 program) with wasi and sockbox linked.
    Run(Box<RunArgs>),
    /// Compile a component ahead of time into a precompiled file (`.cwasm`) that `sockbox run`
    /// maps instead of compiling: the fastest start, with the least memory. It runs only on
    /// this version of sockbox, without --time-limit.
    Compile {
        /// The component (`.wasm`).
        component: PathBuf,
        /// The file to write [default: COMPONENT with .cwasm].
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Run a built-in example plugin end to end against native peers, no setup needed.
    Demo,
    /// Work with policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Build Python plugins.
    #[command(subcommand)]
    Python(PythonCommand),
}

#[derive(Subcommand)]
enum PythonCommand {
    /// Build a Python plugin (a module that defines `Run = sockbox.command(main)`) into a
    /// component: installs componentize-py and the requirements into a cache on first use,
    /// carries sockbox's Python package and WIT, and imports at build time every module the
    /// code names, inside functions too, so none is missing at run time.
    Build {
        /// The plugin's main module; its directory is on the plugin's path.
        app: PathBuf,
        /// A requirements file (pure-Python packages from PyPI). Repeatable.
        #[arg(short = 'r', long = "requirement", value_name = "FILE")]
        requirements: Vec<PathBuf>,
        /// Another directory on the plugin's path. Repeatable.
        #[arg(short = 'p', long = "path", value_name = "DIR")]
        paths: Vec<PathBuf>,
        /// Also import MODULE at build time (one the code imports by a computed name, or that
        /// code loaded at run time from a --dir needs). Repeatable.
        #[arg(long = "import", value_name = "MODULE")]
        imports: Vec<String>,
        /// The component to write [default: APP's name with .wasm, here].
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Where componentize-py and vendored packages are kept [default: $SOCKBOX_CACHE_DIR,
        /// else $XDG_CACHE_HOME/sockbox, else ~/.cache/sockbox].
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Parse a policy file and print what it allows and the limits it sets.
    Check {
        /// The policy file (TOML).
        file: PathBuf,
    },
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Bind and listen on ADDR (`127.0.0.1:8080`, `[::1]:0`, `unix:/run/app.sock`) and hand the
    /// guest the listening socket, found with `sockbox::preopened_sockets()`. Outside the
    /// policy. Repeatable.
    #[arg(long, value_name = "ADDR")]
    listen: Vec<String>,
    /// Give the guest the host directory HOST as GUEST (`--dir ./data::/data`). Repeatable.
    #[arg(long, value_name = "HOST::GUEST")]
    dir: Vec<String>,
    /// Set an environment variable for the guest. Repeatable.
    #[arg(long, value_name = "K=V")]
    env: Vec<String>,
    /// The timeout, in seconds, new guest sockets start with (socket.setdefaulttimeout).
    #[arg(long, value_name = "SECS")]
    default_timeout: Option<f64>,
    /// Stop the guest after SECS seconds, whether it is computing or blocked in a socket call
    /// (exit status 124, as timeout(1)).
    #[arg(long, value_name = "SECS")]
    time_limit: Option<f64>,
    /// Trust the certificates in FILE (PEM) for the guest's TLS connections, besides
    /// Mozilla's roots. Repeatable.
    #[arg(long, value_name = "FILE")]
    tls_ca: Vec<PathBuf>,
    /// A TLS credential the guest may serve with, or present as a client certificate, by NAME,
    /// its key never entering the guest: `NAME=CERT.pem,KEY.pem` (Python:
    /// `sockbox.use_tls_credential(context, NAME)`).
    /// Repeatable.
    #[arg(long, value_name = "NAME=CERT,KEY")]
    tls_credential: Vec<String>,
    /// Let the guest make TLS connections that verify no certificate (`verify-mode.none`,
    /// Python's `CERT_NONE`); refused by default.
    #[arg(long)]
    tls_allow_unverified: bool,
    /// Trust the system's certificate store too (the distribution's bundle, or
    /// `SSL_CERT_FILE`/`SSL_CERT_DIR`), besides Mozilla's roots.
    #[arg(long)]
    tls_system_roots: bool,
    /// The oldest TLS version the guest may speak: `1.2` (the default) or `1.3`.
    #[arg(long, value_name = "VERSION")]
    tls_min_version: Option<sockbox_host::TlsVersion>,
    /// Turn TCP_NODELAY on for the guest's wasi:sockets connections (Rust std::net, wasi-libc,
    /// CPython's WASI `_socket`), which cannot set it themselves.
    #[arg(long)]
    wasi_tcp_nodelay: bool,
    /// After SIGINT or SIGTERM, how long the guest has to stop on its own (its blocked socket
    /// calls fail with ECANCELED at once) before it is stopped; a second signal stops it at
    /// once. Either way sockbox then exits with 128 + the signal's number.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    grace: f64,
    /// The component to run.
    component: PathBuf,
    /// Arguments for the component.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// The policy flags: nothing is allowed unless a rule allows it.
#[derive(Args)]
struct PolicyArgs {
    /// Allow connect and sendto to matching addresses (and datagrams from them):
    /// `IP[:PORTS]`, `CIDR[:PORTS]`, `[IPv6][:PORTS]`, `NAME[:PORTS]` or `*.DOMAIN[:PORTS]`
    /// (what the name resolved to in this instance), `*:PORTS`, `*`; PORTS is `N`, `N-M` or
    /// `*`. `self` allows the instance's own listening sockets. Repeatable.
    #[arg(long, value_name = "RULE")]
    allow_connect: Vec<String>,
    /// Allow bind to matching addresses (same forms as --allow-connect). Repeatable.
    #[arg(long, value_name = "RULE")]
    allow_bind: Vec<String>,
    /// Allow DNS lookups of matching names: `name`, `*.domain`, `*`; an `IP` or `CIDR`
    /// allows reverse lookups of those addresses. Repeatable.
    #[arg(long, value_name = "RULE")]
    allow_lookup: Vec<String>,
    /// Allow Unix-domain bind/connect/sendto: `PATH`, `DIR/*`, `@NAME`, `@PREFIX*`.
    /// Repeatable.
    #[arg(long, value_name = "RULE")]
    allow_unix: Vec<String>,
    /// Once given, accept only connections from matching peers (address rules); others are
    /// closed unseen. Repeatable.
    #[arg(long, value_name = "RULE")]
    allow_accept: Vec<String>,
    /// Allow passing descriptors (send_fds/recv_fds) over Unix-domain sockets.
    #[arg(long)]
    allow_fd_passing: bool,
    /// Allow everything: any address, name, Unix path and fd passing. Trusted guests only.
    #[arg(long)]
    allow_all: bool,
    /// Read rules and limits from a TOML policy file (added to the flags' rules; flags win
    /// for limits).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The most sockets the guest may hold at once [default: 1024].
    #[arg(long, value_name = "N")]
    max_sockets: Option<usize>,
    /// The most bytes one read returns [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    max_read: Option<usize>,
    /// The largest listen backlog [default: 128].
    #[arg(long, value_name = "N")]
    max_backlog: Option<u32>,
    /// The most descriptors one recv_fds call accepts [default: 16].
    #[arg(long, value_name = "N")]
    max_fds_per_call: Option<usize>,
    /// The most name lookups in flight [default: 4].
    #[arg(long, value_name = "N")]
    max_pending_lookups: Option<usize>,
    /// The most sockets waiting in the share group for their fromshare [default: 16].
    #[arg(long, value_name = "N")]
    max_parked: Option<usize>,
}

impl PolicyArgs {
    /// The policy, limits and TLS files the flags (and the policy file, if named) give.
    fn build(&self) -> Result<(Policy, Limits, TlsFile)> {
        let mut b = Policy::builder();
        if self.allow_all {
            eprintln!(
                "sockbox: WARNING: --allow-all: the guest may reach anything this process can"
            );
            b = b.allow_all();
        }
        for r in &self.allow_accept {
            b = b.allow_accept(r)?;
        }
        for r in &self.allow_connect {
            b = b.allow_connect(r)?;
        }
        for r in &self.allow_bind {
            b = b.allow_bind(r)?;
        }
        for r in &self.allow_lookup {
            b = b.allow_lookup(r)?;
        }
        for r in &self.allow_unix {
            b = b.allow_unix(r)?;
        }
        if self.allow_fd_passing {
            b = b.allow_fd_passing();
        }
        let (policy, mut limits, tls) = match &self.policy {
            Some(path) => {
                let f = PolicyFile::load_onto(b, path)?;
                (f.policy, f.limits, f.tls)
            }
            None => (b.build(), Limits::default(), TlsFile::default()),
        };
        let set = |to: &mut usize, from: Option<usize>| *to = from.unwrap_or(*to);
        set(&mut limits.max_sockets, self.max_sockets);
        set(&mut limits.max_read, self.max_read);
        set(&mut limits.max_fds_per_call, self.max_fds_per_call);
        set(&mut limits.max_pending_lookups, self.max_pending_lookups);
        set(&mut limits.max_parked, self.max_parked);
        limits.max_backlog = self.max_backlog.unwrap_or(limits.max_backlog);
        Ok((policy, limits, tls))
    }
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "sockbox=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
    let code = match Cli::parse().command {
        Command::Run(args) => run(*args)?,
        Command::Demo => demo()?,
        Command::Compile { component, output } => compile(&component, output)?,
        Command::Policy(PolicyCommand::Check { file }) => policy_check(&file)?,
        Command::Python(PythonCommand::Build {
            app,
            requirements,
            paths,
            imports,
            output,
            cache,
        }) => python_build(app, requirements, paths, imports, output, cache)?,
    };
    std::process::exit(code);
}

/// `sockbox policy check FILE`: what the file allows, rule by rule, and its limits.
/// Whether `path` is a precompiled file (`sockbox compile` writes ELF objects) rather than a
/// `.wasm` component.
fn is_precompiled(path: &std::path::Path) -> Result<bool> {
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(path)?.read(&mut magic)?;
    Ok(n == 4 && magic == *b"\x7fELF")
}

/// `sockbox compile`: the precompiled form of a component, for the engine `sockbox run` uses
/// without a time limit.
fn compile(component: &std::path::Path, output: Option<PathBuf>) -> Result<i32> {
    let output = output.unwrap_or_else(|| component.with_extension("cwasm"));
    let wasm =
        std::fs::read(component).with_context(|| format!("reading {}", component.display()))?;
    let runner = Runner::new().map_err(anyhow::Error::from)?;
    let name = component.display().to_string();
    let bytes = compiling(&name, || runner.precompile(&wasm))?;
    std::fs::write(&output, bytes).with_context(|| format!("writing {}", output.display()))?;
    eprintln!("sockbox: wrote {}", output.display());
    Ok(0)
}

fn python_build(
    app: PathBuf,
    requirements: Vec<PathBuf>,
    paths: Vec<PathBuf>,
    imports: Vec<String>,
    output: Option<PathBuf>,
    cache: Option<PathBuf>,
) -> Result<i32> {
    let output = output.unwrap_or_else(|| {
        PathBuf::from(app.file_stem().unwrap_or(app.as_os_str())).with_extension("wasm")
    });
    let mut build = python::Build::new(&app, &output);
    build.requirements = requirements;
    build.paths = paths;
    build.preimport = imports;
    if let Some(cache) = cache {
        build.cache = cache;
    }
    let built = build.run(&mut |step| eprintln!("sockbox: {step}"))?;
    eprintln!(
        "sockbox: imported at build time besides {} ({} modules): {}",
        app.display(),
        built.preimported.len(),
        built.preimported.join(" ")
    );
    eprintln!("sockbox: wrote {}", output.display());
    Ok(0)
}

fn policy_check(file: &std::path::Path) -> Result<i32> {
    let f = PolicyFile::load(file)?;
    let lines = f.policy.explain();
    println!("{}: {} rule(s)", file.display(), f.policy.describe().len());
    for line in lines {
        println!("  {line}");
    }
    println!("limits:");
    let defaults = Limits::default().describe();
    for (line, default) in f.limits.describe().into_iter().zip(defaults) {
        let note = if line == default { " (default)" } else { "" };
        println!("  {line}{note}");
    }
    println!("everything else is denied");
    if f.tls != TlsFile::default() {
        println!("tls:");
        for ca in &f.tls.ca {
            println!("  trust the roots in {}", ca.display());
        }
        for (name, cert, key) in &f.tls.credentials {
            println!(
                "  serve as {name:?} with {} and {} (the key stays in the host)",
                cert.display(),
                key.display()
            );
        }
        if f.tls.system_roots {
            println!("  the system's roots trusted too");
        }
        if let Some(v) = f.tls.min_version {
            println!("  TLS {v} at least");
        }
        if f.tls.allow_unverified {
            println!("  the guest may turn certificate verification off");
        }
    }
    Ok(0)
}

fn run(args: RunArgs) -> Result<i32> {
    let (policy, limits, mut tls) = args.policy.build()?;
    // A guest that may write a directory could link or rename sockets into paths a Unix rule
    // allows: refuse the combination.
    for d in &args.dir {
        let host = d.split_once("::").map_or(d.as_str(), |(host, _)| host);
        let overlapping = policy.unix_rules_overlapping(std::path::Path::new(host));
        if !overlapping.is_empty() {
            bail!(
                "--dir {d} gives the guest write access where Unix rules apply ({}): it could \
                 link or rename a socket into an allowed path; keep Unix rules outside the \
                 directories the guest may write",
                overlapping.join(", ")
            );
        }
    }
    // The flags add to the policy file's [tls] table.
    tls.allow_unverified |= args.tls_allow_unverified;
    tls.system_roots |= args.tls_system_roots;
    tls.min_version = args.tls_min_version.or(tls.min_version);
    tls.ca.extend(args.tls_ca.iter().cloned());
    for spec in &args.tls_credential {
        let (name, files) = spec
            .split_once('=')
            .context("--tls-credential takes NAME=CERT.pem,KEY.pem")?;
        let (cert, key) = files
            .split_once(',')
            .context("--tls-credential takes NAME=CERT.pem,KEY.pem")?;
        tls.credentials
            .push((name.to_string(), PathBuf::from(cert), PathBuf::from(key)));
    }
    let mut sockets = SocketCtx::builder()
        .policy(policy)
        .limits(limits)
        .tls_allow_unverified(tls.allow_unverified)
        .tls_system_roots(tls.system_roots)
        .tls_min_version(tls.min_version.unwrap_or_default());
    let read = |f: &std::path::Path| {
        std::fs::read(f).with_context(|| format!("TLS file {} (--tls-*, [tls])", f.display()))
    };
    for (name, cert, key) in &tls.credentials {
        sockets = sockets
            .tls_credential(name, &read(cert)?, &read(key)?)
            .with_context(|| format!("TLS credential {name} ({})", cert.display()))?;
    }
    for file in &tls.ca {
        sockets = sockets
            .tls_roots_pem(&read(file)?)
            .with_context(|| format!("TLS roots {} (--tls-ca, [tls] ca)", file.display()))?;
    }
    if let Some(secs) = args.default_timeout {
        let t = Duration::try_from_secs_f64(secs).context("--default-timeout")?;
        sockets = sockets.default_timeout(Some(t));
    }
    sockets = sockets.wasi_tcp_nodelay(args.wasi_tcp_nodelay);
    for addr in &args.listen {
        let (socket, name) = match addr.strip_prefix("unix:") {
            Some(path) => (listen_unix(path)?, format!("unix:{path}")),
            None => {
                let (socket, bound) = listen(addr)?;
                (socket, bound.to_string())
            }
        };
        eprintln!("sockbox: listening on {name}");
        sockets = sockets.preopen(name, socket);
    }
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stdio();
    let name = args.component.display().to_string();
    wasi.arg(&name).args(&args.args);
    for kv in &args.env {
        let (k, v) = kv.split_once('=').context("--env takes K=V")?;
        wasi.env(k, v);
    }
    for d in &args.dir {
        let (host, guest) = d.split_once("::").context("--dir takes HOST::GUEST")?;
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("--dir {d}"))?;
    }
    let precompiled = is_precompiled(&args.component).with_context(|| format!("reading {name}"))?;
    if !precompiled {
        // Files the plugin carries (a Python plugin's package data), read-only where it
        // expects them.
        let wasm =
            std::fs::File::open(&args.component).with_context(|| format!("reading {name}"))?;
        let files = PluginFiles::read(wasm).with_context(|| format!("reading {name}"))?;
        if !files.is_empty() {
            files
                .mount(&sockbox_cli::cache_dir().join("plugin-files"), &mut wasi)
                .with_context(|| format!("mounting the files {name} carries"))?;
        }
    }
    let budget = args
        .time_limit
        .map(Duration::try_from_secs_f64)
        .transpose()
        .context("--time-limit")?;
    let grace = Duration::try_from_secs_f64(args.grace).context("--grace")?;
    let sockets = sockets.build()?;
    let signalled = watch_signals(sockets.interrupt_handle(), grace)?;
    // Compiled once per component (and engine flavour), then mapped from sockbox's cache.
    let load = |engine: &wasmtime::Engine, flavour: &str| {
        compiled::load(engine, &args.component, flavour, |wasm| {
            compiling(&name, || engine.precompile_component(wasm))
        })
        .with_context(|| format!("loading {name}"))
    };
    let result = match budget {
        Some(_) if precompiled => bail!(
            "{name} is precompiled for runs without --time-limit: run the .wasm it was made from"
        ),
        // With a limit the guest runs on the async host, so that the limit stops it whatever
        // it waits on (a socket, a wasi clock, stdin) or while it spins.
        Some(budget) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let runner = AsyncRunner::with_deadlines().map_err(anyhow::Error::from)?;
            let component = load(runner.engine(), "deadlines")?;
            let wasi = wasi.build();
            runtime.block_on(async {
                let instance = runner.instantiate(&component, wasi, sockets).await?;
                instance.run_for(budget).await
            })
        }
        None => {
            let runner = Runner::new().map_err(anyhow::Error::from)?;
            let component = if precompiled {
                // SAFETY: the user named this precompiled file to run, as they would name a
                // native program; wasmtime refuses one made by another version or config.
                unsafe { runner.load_precompiled(&args.component) }
                    .map_err(anyhow::Error::from)
                    .with_context(|| format!("loading {name} (made by `sockbox compile`?)"))?
            } else {
                load(runner.engine(), "default")?
            };
            let instance = runner
                .instantiate(&component, wasi.build(), sockets)
                .map_err(anyhow::Error::from)?;
            instance.run()
        }
    };
    if let Some(signal) = signalled.get() {
        eprintln!("sockbox: {name} stopped after {}", signal_name(*signal));
        return Ok(128 + signal);
    }
    match result {
        Ok(code) => Ok(code),
        Err(e) if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) => {
            eprintln!("sockbox: {name} stopped: its --time-limit ran out");
            Ok(124)
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs `compile`, saying so on stderr when it takes more than a second (a first run: later
/// ones load the compiled code from the cache).
fn compiling<T>(name: &str, compile: impl FnOnce() -> wasmtime::Result<T>) -> Result<T> {
    let (done, wait) = std::sync::mpsc::channel::<()>();
    let name = name.to_string();
    let notice = std::thread::spawn(move || {
        if wait.recv_timeout(Duration::from_secs(1))
            == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        {
            eprintln!("sockbox: compiling {name} (once: later runs load it from the cache)");
        }
    });
    let out = compile();
    drop(done);
    let _ = notice.join();
    out.map_err(anyhow::Error::from)
}

/// Watches for SIGINT and SIGTERM on a thread of its own. The first interrupts the instance
/// (its blocked socket calls fail with ECANCELED, so a guest can stop on its own) and gives it
/// `grace` to do so; when that runs out, or at a second signal, the process exits with 128 +
/// the signal's number. The signal seen, once there is one.
fn watch_signals(
    interrupt: sockbox_host::InterruptHandle,
    grace: Duration,
) -> Result<std::sync::Arc<std::sync::OnceLock<i32>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let seen = std::sync::Arc::new(std::sync::OnceLock::new());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Registered here, before the guest starts, so no signal is missed.
    let (mut int, mut term) = runtime.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::interrupt())?,
            signal(SignalKind::terminate())?,
        ))
    })?;
    let record = std::sync::Arc::clone(&seen);
    std::thread::Builder::new()
        .name("sockbox-signals".into())
        .spawn(move || {
            runtime.block_on(async move {
                let first = next_signal(&mut int, &mut term).await;
                let _ = record.set(first);
                eprintln!(
                    "sockbox: {}: stopping the guest (a second signal stops it at once)",
                    signal_name(first)
                );
                interrupt.interrupt();
                let second = tokio::select! {
                    s = next_signal(&mut int, &mut term) => s,
                    () = tokio::time::sleep(grace) => first,
                };
                std::process::exit(128 + second);
            });
        })?;
    Ok(seen)
}

/// The next SIGINT or SIGTERM.
async fn next_signal(
    int: &mut tokio::signal::unix::Signal,
    term: &mut tokio::signal::unix::Signal,
) -> i32 {
    tokio::select! {
        _ = int.recv() => libc_signal::SIGINT,
        _ = term.recv() => libc_signal::SIGTERM,
    }
}

/// The numbers of the signals `watch_signals` handles (Linux's).
mod libc_signal {
    pub(crate) const SIGINT: i32 = 2;
    pub(crate) const SIGTERM: i32 = 15;
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc_signal::SIGINT => "SIGINT",
        _ => "SIGTERM",
    }
}

/// A listening TCP socket on `addr` (close-on-exec; `SocketCtxBuilder::build` makes it
/// non-blocking, as every sockbox socket).
fn listen(addr: &str) -> Result<(Socket, SocketAddr)> {
    let sa = addr
        .to_socket_addrs()
        .with_context(|| format!("--listen {addr}"))?
        .next()
        .with_context(|| format!("--listen {addr}: no address"))?;
    let socket = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket
        .bind(&sa.into())
        .with_context(|| format!("--listen {addr}"))?;
    socket.listen(128)?;
    let bound = socket
        .local_addr()?
        .as_socket()
        .context("listener address")?;
    Ok((socket, bound))
}

/// A listening Unix-domain stream socket at `path` (which must not exist yet).
fn listen_unix(path: &str) -> Result<Socket> {
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    let addr = socket2::SockAddr::unix(path).with_context(|| format!("--listen unix:{path}"))?;
    socket
        .bind(&addr)
        .with_context(|| format!("--listen unix:{path}"))?;
    socket.listen(128)?;
    Ok(socket)
}

/// The demo plugin, compiled from `examples/src/bin/demo.rs` by the build script.
const DEMO_WASM: &[u8] = include_bytes!(env!("SOCKBOX_DEMO_WASM"));

fn demo() -> Result<i32> {
    println!("sockbox demo: a wasm plugin (built into this binary) uses sockets the host serves.");

    let echo = TcpListener::bind("127.0.0.1:0")?;
    let port = echo.local_addr()?.port();
    std::thread::spawn(move || {
        for mut conn in echo.incoming().flatten() {
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = conn.read(&mut buf) {
                let _ = conn.write_all(&buf[..n]);
            }
        }
    });
    let (listener, listen_addr) = listen("127.0.0.1:0")?;
    let policy = Policy::builder()
        .allow_lookup("localhost")?
        .allow_connect(&format!("127.0.0.1:{port}"))?
        .build();
    println!("host:  native echo server on 127.0.0.1:{port}; preopened listener on {listen_addr}");
    println!("host:  policy {}", policy.describe().join(" "));

    let client = std::thread::spawn(move || -> Result<String> {
        let mut conn = TcpStream::connect(listen_addr)?;
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        conn.write_all(b"hello plugin, from a native client\n")?;
        let mut reply = String::new();
        BufReader::new(conn).read_line(&mut reply)?;
        Ok(reply.trim_end().to_string())
    });

    let runner = Runner::new().map_err(anyhow::Error::from)?;
    let component = runner.compile(DEMO_WASM).map_err(anyhow::Error::from)?;
    let mut wasi = WasiCtx::builder();
    wasi.inherit_stdio().args(&["demo", &port.to_string()]);
    let sockets = SocketCtx::builder()
        .policy(policy)
        .preopen(listen_addr.to_string(), listener)
        .build()?;
    let code = runner
        .run(&component, wasi.build(), sockets)
        .map_err(anyhow::Error::from)?;
    let reply = client
        .join()
        .map_err(|_| anyhow::anyhow!("native client panicked"))??;
    println!("host:  native client got back {reply:?}");
    println!("host:  plugin exited with {code}");
    if code != 0 {
        bail!("the demo plugin failed");
    }
    Ok(0)
}
