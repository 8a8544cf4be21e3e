//! sockbox-bench: each workload three ways in one run — native Rust sockets, a sockbox guest,
//! and a `wasi:sockets` guest (Rust `std::net` on wasm32-wasip2) in the same wasmtime — with a
//! native peer every time. Interleaved rounds, the client and the peer pinned to different
//! cores, wall time and the client side's CPU time per operation (the process's, less the
//! peer's: the client thread and any host threads serving the guest).
//!
//! `cargo run --release -p sockbox-bench` (about two minutes); `-- --quick` checks it works.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use serde::Serialize;
use sockbox_host::run::{AsyncRunner, Runner, WasiSockets};
use sockbox_host::{Policy, SocketCtx};
use wasmtime::component::Component;
use wasmtime_wasi::{FsPerms, WasiCtx};

mod chart;
mod http;
mod scale;
mod starts;

/// sockbox against native sockets and wasi:sockets, side by side.
#[derive(Parser)]
struct Args {
    /// Tiny sizes and one round: checks that every workload still runs, not its speed.
    #[arg(long)]
    quick: bool,
    /// Rounds (each workload and way once per round, interleaved).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Only the rows whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Where to write the results as JSON.
    #[arg(long, default_value = "target/bench/results.json")]
    json: PathBuf,
    /// Where to write the chart of ratios as SVG.
    #[arg(long, default_value = "target/bench/ratios.svg")]
    svg: PathBuf,
    /// Instead of the rows: many guests on one thread of the async host (1,000 instances,
    /// 10 connections each; 20 and 5 with --quick), with memory and rates.
    #[arg(long)]
    scale: bool,
    /// The client side of --scale (run by the bench itself, in a child process).
    #[arg(long, hide = true)]
    scale_client: bool,
    /// Only this way of each row (`Native`, `Sockbox`, `Wasi`, `WasiOnSockbox`, ...), printing
    /// each round's times instead of the tables: for profiling one way with perf or strace.
    #[arg(long)]
    way: Option<String>,
}

/// Who runs the client side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
enum Way {
    /// Rust on the host, socket2/std.
    Native,
    /// The sockbox guest.
    Sockbox,
    /// The `wasi:sockets` guest (std::net on wasm32-wasip2).
    Wasi,
    /// The sockbox guest reading the file and sending it (the sendfile row's third way).
    GuestLoop,
    /// The sockbox guest on the async host (`add_to_linker_async`, a current-thread tokio
    /// runtime on the client CPU).
    SockboxAsync,
    /// The `wasi:sockets` guest on wasmtime-wasi's async host (same runtime).
    WasiAsync,
    /// The same `wasi:sockets` guest served by sockbox's `wasi:sockets` (the synchronous host,
    /// under a policy that allows the peer).
    WasiOnSockbox,
}

impl Way {
    /// Runs on the async host.
    fn is_async(self) -> bool {
        matches!(self, Way::SockboxAsync | Way::WasiAsync)
    }

    /// The synchronous runner this way runs on.
    fn runner(self) -> &'static Runner {
        match self {
            Way::Wasi => wasmtime_runner(),
            _ => runner(),
        }
    }

    /// The async runner this way runs on.
    fn async_runner(self) -> &'static AsyncRunner {
        match self {
            Way::WasiAsync => wasmtime_async_runner(),
            _ => async_runner(),
        }
    }

    /// The `wasi:sockets` guest, whoever serves it.
    fn is_wasi_guest(self) -> bool {
        matches!(self, Way::Wasi | Way::WasiAsync | Way::WasiOnSockbox)
    }

    /// The sockbox guest, on either host.
    fn is_sockbox(self) -> bool {
        matches!(self, Way::Sockbox | Way::SockboxAsync)
    }
}

/// What a row measures.
#[derive(Clone, Copy, Debug)]
enum Work {
    /// The client sends `total` bytes in `chunk` writes.
    Send { total: u64, chunk: usize },
    /// The client receives `total` bytes with `chunk`-sized reads: socket.py's `recv`, which
    /// returns the bytes, or with `into`, `recv_into` a buffer of the guest's (std's `read` for
    /// the wasi:sockets guest, both ways).
    Recv {
        total: u64,
        chunk: usize,
        into: bool,
    },
    /// `count` 1-byte ping-pongs.
    Rtt { count: u64 },
    /// A file of `total` bytes sent with sendfile (or read and sent).
    Sendfile { total: u64 },
    /// The client accepts and closes `count` connections.
    Accept { count: u64 },
    /// Instantiate a guest and get its first byte to the peer.
    Startup,
    /// TLS: `total` bytes from a native rustls server, read `chunk` at a time.
    TlsRecv { total: u64, chunk: usize },
    /// TLS: `count` 1-byte ping-pongs with a native rustls server (TCP_NODELAY).
    TlsRtt { count: u64 },
    /// TLS: `count` connections, each a full handshake with a native rustls server.
    TlsHandshakes { count: u64 },
}

/// A benchmark row: a workload, its socket options, the ways it runs, and its target.
struct Row {
    name: String,
    work: Work,
    nodelay: bool,
    ways: Vec<Way>,
    target: Target,
}

/// The target a row is held to (ratios of medians, same run).
#[derive(Clone, Copy, Debug, Serialize)]
enum Target {
    /// sockbox wall time ≤ x × native.
    WallAtMost(f64),
    /// sockbox CPU time per op ≤ x × native.
    CpuAtMost(f64),
    /// sockbox CPU per op ≤ x × native and throughput ≥ y × native.
    CpuAndThroughput(f64, f64),
    /// sockbox ≥ x × native throughput and ≥ y × the guest read+send loop.
    Sendfile(f64, f64),
    /// sockbox accept rate ≥ x × native.
    RateAtLeast(f64),
    /// sockbox startup ≤ x × the wasi-only guest.
    StartupAtMost(f64),
    /// Only: at least as fast as wasi:sockets.
    NotSlowerThanWasi,
}

/// One measurement.
#[derive(Clone, Copy, Debug, Serialize)]
struct Sample {
    wall: Duration,
    /// The client side's CPU time: the process's during the client's run, less what the
    /// native peer used. So it counts the threads a host serves the guest from (wasmtime-wasi's
    /// tokio workers on the synchronous host) as well as the client thread.
    cpu: Duration,
    /// The client thread's own CPU time.
    thread: Duration,
    /// The user-space part of `thread` (the rest is the kernel's), at clock-tick resolution.
    user: Duration,
    /// The process's CPU time when the client started, until [`Sample::settle`] has worked
    /// out `cpu` from it.
    #[serde(skip)]
    process_at_start: Option<Duration>,
}

impl Sample {
    /// Sets `cpu` to the client side's CPU time: the process's since the client started, less
    /// the peers' (`PEER_CPU_NS` was `peers_before` then). Called once the client and the peers
    /// have ended: a thread's CPU time is summed into the process's exactly when it exits (one
    /// running on another CPU may not be counted up to the moment before). Once per sample.
    fn settle(&mut self, peers_before: u64) {
        if let Some(p0) = self.process_at_start.take() {
            let peers = PEER_CPU_NS.load(Ordering::SeqCst) - peers_before;
            self.cpu = process_cpu()
                .saturating_sub(p0)
                .saturating_sub(Duration::from_nanos(peers));
        }
    }
}

/// What the JSON and the table hold per row and way.
#[derive(Serialize)]
struct WayResult {
    way: Way,
    wall_median_s: f64,
    wall_spread: f64,
    cpu_median_s: f64,
    cpu_per_op_ns: f64,
    /// The median of the samples' user-space CPU times (the rest of their CPU is the kernel's).
    user_median_s: f64,
    samples: Vec<Sample>,
}

#[derive(Serialize)]
struct RowResult {
    name: String,
    ops: u64,
    nodelay: bool,
    target: Target,
    ways: Vec<WayResult>,
    /// sockbox / native, wall.
    wall_ratio: Option<f64>,
    /// sockbox / native, CPU per op.
    cpu_ratio: Option<f64>,
    /// sockbox / wasi (or the guest loop), wall.
    vs_third: Option<f64>,
    met: Option<bool>,
    /// sockbox on the async host / on the synchronous host, CPU per op.
    async_vs_sync_cpu: Option<f64>,
    /// sockbox / wasi:sockets, both on the async host, wall.
    async_vs_wasi_async: Option<f64>,
    /// The async host's targets: CPU per op ≤1.10× the synchronous host's, and (where the
    /// wasi:sockets guest runs the row) no slower than it on the async host.
    async_met: Option<bool>,
    /// The wasi:sockets guest served by sockbox / by wasmtime-wasi, wall (target ≤1).
    wasi_sockbox_vs_wasmtime: Option<f64>,
}

const CLIENT_CPU: usize = 0;
const PEER_CPU: usize = 1;

fn main() -> Result<()> {
    let args = Args::parse();
    if args.scale_client {
        return scale::client();
    }
    if args.scale {
        let (instances, per) = if args.quick { (20, 5) } else { (1000, 10) };
        return scale::run(instances, per, &args.json.with_file_name("scale.json"));
    }
    let rounds = if args.quick { 1 } else { args.rounds.max(1) };
    let rows = rows(args.quick);
    let rows: Vec<Row> = rows
        .into_iter()
        .filter(|r| {
            args.only
                .as_ref()
                .is_none_or(|o| r.name.contains(o.as_str()))
        })
        .collect();
    let files = tempfile::Builder::new()
        .prefix("sockbox-bench")
        .tempdir_in(shm_or_tmp())?;
    let mut samples: Vec<Vec<Vec<Sample>>> = rows
        .iter()
        .map(|r| vec![Vec::new(); r.ways.len()])
        .collect();
    eprintln!(
        "sockbox-bench: {} rows x {rounds} rounds, client on cpu {CLIENT_CPU}, peer on cpu {PEER_CPU}",
        rows.len()
    );
    for round in 0..rounds {
        for (ri, row) in rows.iter().enumerate() {
            // Rotate the order of the ways each round, so none always runs first.
            let n = row.ways.len();
            for k in 0..n {
                let wi = (k + round) % n;
                if args
                    .way
                    .as_ref()
                    .is_some_and(|w| *w != format!("{:?}", row.ways[wi]))
                {
                    continue;
                }
                let peers_before = PEER_CPU_NS.load(Ordering::SeqCst);
                let mut s = measure(row, row.ways[wi], files.path())
                    .with_context(|| format!("{} / {:?}", row.name, row.ways[wi]))?;
                s.settle(peers_before);
                samples[ri][wi].push(s);
            }
        }
        eprintln!("sockbox-bench: round {} of {rounds} done", round + 1);
    }
    if let Some(way) = &args.way {
        for (row, s) in rows.iter().zip(&samples) {
            for s in s.iter().flatten() {
                println!(
                    "{} / {way}: wall {:?}, cpu {:?} (client thread {:?})",
                    row.name, s.wall, s.cpu, s.thread
                );
            }
        }
        return Ok(());
    }
    let results: Vec<RowResult> = rows
        .iter()
        .zip(samples)
        .map(|(row, s)| summarize(row, s))
        .collect();
    print_table(&results, args.quick);
    print_async_table(&results, args.quick);
    print_wasi_table(&results, args.quick);
    if let Some(dir) = args.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.json, serde_json::to_string_pretty(&results)?)?;
    chart::write(&args.svg, &results)?;
    eprintln!(
        "sockbox-bench: wrote {} and {}",
        args.json.display(),
        args.svg.display()
    );
    if args
        .only
        .as_ref()
        .is_none_or(|o| "process starts".contains(o.as_str()))
    {
        let json = args.json.with_file_name("starts.json");
        starts::run(args.quick, Path::new(env!("SOCKBOX_BENCH_GUESTS")), &json)?;
    }
    if args
        .only
        .as_ref()
        .is_none_or(|o| "http file serving".contains(o.as_str()))
    {
        let json = args.json.with_file_name("http.json");
        let guests = Path::new(env!("SOCKBOX_BENCH_GUESTS"));
        http::run(args.quick, args.rounds.min(3), guests, &json)?;
    }
    Ok(())
}

/// The rows, full size or quick.
fn rows(quick: bool) -> Vec<Row> {
    let gib: u64 = if quick { 8 << 20 } else { 1 << 30 };
    let rtts: u64 = if quick { 1_000 } else { 100_000 };
    let accepts: u64 = if quick { 200 } else { 20_000 };
    let three = vec![
        Way::Native,
        Way::Sockbox,
        Way::Wasi,
        Way::SockboxAsync,
        Way::WasiAsync,
        Way::WasiOnSockbox,
    ];
    let two = vec![Way::Native, Way::Sockbox, Way::SockboxAsync];
    let row = |name: &str, work, nodelay, ways: &Vec<Way>, target| Row {
        name: name.to_string(),
        work,
        nodelay,
        ways: ways.clone(),
        target,
    };
    vec![
        row(
            "send 64 KiB, NODELAY",
            Work::Send {
                total: gib,
                chunk: 64 << 10,
            },
            true,
            &two,
            Target::CpuAndThroughput(1.05, 0.95),
        ),
        row(
            "send 64 KiB, Nagle",
            Work::Send {
                total: gib,
                chunk: 64 << 10,
            },
            false,
            &three,
            Target::NotSlowerThanWasi,
        ),
        row(
            "recv 64 KiB",
            Work::Recv {
                total: gib,
                chunk: 64 << 10,
                into: false,
            },
            false,
            &three,
            Target::CpuAndThroughput(1.05, 0.95),
        ),
        row(
            "recv_into 64 KiB",
            Work::Recv {
                total: gib,
                chunk: 64 << 10,
                into: true,
            },
            false,
            &three,
            Target::NotSlowerThanWasi,
        ),
        row(
            "send 4 KiB, NODELAY",
            Work::Send {
                total: gib,
                chunk: 4 << 10,
            },
            true,
            &two,
            Target::CpuAtMost(1.05),
        ),
        row(
            "send 4 KiB, Nagle",
            Work::Send {
                total: gib,
                chunk: 4 << 10,
            },
            false,
            &three,
            Target::NotSlowerThanWasi,
        ),
        row(
            "recv 4 KiB",
            Work::Recv {
                total: gib,
                chunk: 4 << 10,
                into: false,
            },
            false,
            &three,
            Target::NotSlowerThanWasi,
        ),
        row(
            "round trip 1 B, NODELAY",
            Work::Rtt { count: rtts },
            true,
            &two,
            Target::WallAtMost(1.03),
        ),
        row(
            "round trip 1 B, Nagle",
            Work::Rtt { count: rtts },
            false,
            &three,
            Target::NotSlowerThanWasi,
        ),
        row(
            "sendfile",
            Work::Sendfile { total: gib },
            false,
            &vec![Way::Native, Way::Sockbox, Way::GuestLoop, Way::SockboxAsync],
            Target::Sendfile(0.98, 2.0),
        ),
        row(
            "accept + close",
            Work::Accept { count: accepts },
            false,
            &three,
            Target::RateAtLeast(0.9),
        ),
        row(
            "TLS recv 64 KiB",
            Work::TlsRecv {
                total: gib,
                chunk: 64 << 10,
            },
            false,
            &two,
            Target::RateAtLeast(0.95),
        ),
        row(
            "TLS round trip 1 B",
            Work::TlsRtt { count: rtts / 4 },
            true,
            &two,
            Target::WallAtMost(1.05),
        ),
        row(
            "TLS handshake",
            Work::TlsHandshakes {
                count: accepts / 10,
            },
            true,
            &two,
            Target::RateAtLeast(0.9),
        ),
        row(
            "startup to first byte",
            Work::Startup,
            false,
            &three,
            Target::StartupAtMost(1.2),
        ),
    ]
}

/// The TLS rows' test CA and the server's certificate for `localhost`, made once per run.
struct TlsIdentity {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

/// The TLS rows' identity, made on first use: native and guest clients verify the same
/// certificate with rustls's defaults (the same cipher suite both ways).
fn tls_identity() -> &'static TlsIdentity {
    static IDENTITY: OnceLock<TlsIdentity> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let ca_key = KeyPair::generate().expect("key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "sockbox bench CA");
        let ca = ca.self_signed(&ca_key).expect("CA");
        let key = KeyPair::generate().expect("key");
        let leaf = CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .signed_by(&key, &ca, &ca_key)
            .expect("leaf");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
        let server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .expect("server config");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).expect("root");
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsIdentity {
            ca_pem: ca.pem(),
            server: Arc::new(server),
            client: Arc::new(client),
        }
    })
}

/// A native rustls client session over a new connection to `port`, handshake not started.
fn tls_client(port: u16) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_nodelay(true)?;
    let name = rustls::pki_types::ServerName::try_from("localhost")?;
    let conn = rustls::ClientConnection::new(Arc::clone(&tls_identity().client), name)?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// The TLS rows: a native rustls server thread and the client `way` says (rustls natively, or
/// the guest on the host's rustls), the same cipher suite.
fn tls_measure(work: Work, way: Way) -> Result<Sample> {
    let (l, port) = listener()?;
    let config = Arc::clone(&tls_identity().server);
    let server_session = move |l: &TcpListener| -> Result<_> {
        let (tcp, _) = l.accept()?;
        tcp.set_nodelay(true)?;
        let conn = rustls::ServerConnection::new(Arc::clone(&config))?;
        Ok(rustls::StreamOwned::new(conn, tcp))
    };
    let (p, native, args) = match work {
        Work::TlsRecv { total, chunk } => {
            let p = peer(move || {
                let mut s = server_session(&l)?;
                write_bulk(&mut s, 0xa5, 64 << 10, total)?;
                s.conn.send_close_notify();
                s.flush()?;
                Ok(())
            });
            let native =
                move |mut s: rustls::StreamOwned<_, TcpStream>| read_bulk(&mut s, chunk, total);
            let native: Box<dyn FnOnce(_) -> Result<()> + Send> = Box::new(native);
            (
                p,
                native,
                guest_args("tls-recv", port, total, chunk, false, None),
            )
        }
        Work::TlsRtt { count } => {
            let p = peer(move || {
                let mut s = server_session(&l)?;
                let mut b = [0u8; 1];
                for _ in 0..count {
                    s.read_exact(&mut b)?;
                    s.write_all(&b)?;
                }
                Ok(())
            });
            let native = move |mut s: rustls::StreamOwned<_, TcpStream>| {
                let mut b = [0u8; 1];
                for _ in 0..count {
                    s.write_all(b"x")?;
                    s.read_exact(&mut b)?;
                }
                Ok(())
            };
            let native: Box<dyn FnOnce(_) -> Result<()> + Send> = Box::new(native);
            (p, native, guest_args("tls-rtt", port, count, 1, true, None))
        }
        Work::TlsHandshakes { count } => {
            let p = peer(move || {
                for _ in 0..count {
                    let mut s = server_session(&l)?;
                    while s.conn.is_handshaking() {
                        s.conn.complete_io(&mut s.sock)?;
                    }
                    // The client goes once it has its session.
                    let _ = s.read(&mut [0u8; 1]);
                }
                Ok(())
            });
            let native = move |first: rustls::StreamOwned<_, TcpStream>| {
                let mut s = first;
                for i in 0..count {
                    if i > 0 {
                        s = tls_client(port)?;
                    }
                    while s.conn.is_handshaking() {
                        s.conn.complete_io(&mut s.sock)?;
                    }
                }
                Ok(())
            };
            let native: Box<dyn FnOnce(_) -> Result<()> + Send> = Box::new(native);
            (
                p,
                native,
                guest_args("tls-handshakes", port, count, 1, true, None),
            )
        }
        _ => unreachable!("not a TLS row"),
    };
    let s = match way {
        Way::Native => on_client(move || tls_client(port), native)?,
        _ => run_guest(guest(way, args, None, None)?)?,
    };
    join(p)?;
    Ok(s)
}

/// tmpfs when there is one (the sendfile file should not measure a disk).
fn shm_or_tmp() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

fn ops(work: Work) -> u64 {
    match work {
        Work::Send { total, chunk } | Work::Recv { total, chunk, .. } => {
            total.div_ceil(chunk as u64)
        }
        Work::Sendfile { .. } | Work::Startup => 1,
        Work::Rtt { count } | Work::Accept { count } => count,
        Work::TlsRecv { total, chunk } => total.div_ceil(chunk as u64),
        Work::TlsRtt { count } | Work::TlsHandshakes { count } => count,
    }
}

fn pin(cpu: usize) {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    // On a machine with one CPU (or a restricted set) this fails; the run goes on unpinned.
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

/// This thread's user-space CPU time so far (`utime` of /proc/thread-self/stat).
fn thread_user() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let ticks: u64 = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(11))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}

fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The CPU time the native peers have used, added by each as it ends (`measure` subtracts a
/// run's from the process's CPU time).
static PEER_CPU_NS: AtomicU64 = AtomicU64::new(0);

/// Runs `f` on a thread pinned to the client CPU and returns its wall time and CPU time, and
/// the process's CPU time when it started (the client side's is worked out once the peer has
/// ended).
fn on_client<T: Send + 'static>(
    prepare: impl FnOnce() -> Result<T> + Send + 'static,
    f: impl FnOnce(T) -> Result<()> + Send + 'static,
) -> Result<Sample> {
    std::thread::spawn(move || -> Result<Sample> {
        pin(CLIENT_CPU);
        let state = prepare()?;
        let (w0, p0, c0, u0) = (Instant::now(), process_cpu(), thread_cpu(), thread_user());
        f(state)?;
        let thread = thread_cpu() - c0;
        Ok(Sample {
            wall: w0.elapsed(),
            cpu: thread,
            thread,
            user: thread_user().saturating_sub(u0),
            process_at_start: Some(p0),
        })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("client thread panicked"))?
}

/// Spawns the native peer, pinned to the peer CPU.
fn peer<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> JoinHandle<Result<T>> {
    std::thread::spawn(move || {
        pin(PEER_CPU);
        let c0 = thread_cpu();
        let out = f();
        let used = u64::try_from((thread_cpu() - c0).as_nanos()).unwrap_or(u64::MAX);
        PEER_CPU_NS.fetch_add(used, Ordering::SeqCst);
        out
    })
}

/// `total` bytes of `byte` into `w`, in writes of `chunk`.
fn write_bulk(w: &mut impl Write, byte: u8, chunk: usize, total: u64) -> Result<()> {
    let buf = vec![byte; chunk];
    let mut left = total;
    while left > 0 {
        let n = left.min(chunk as u64) as usize;
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// A peer that accepts one connection and reads it to the end: how many bytes came.
/// Reads `total` bytes from `r`, `chunk` at a time.
fn read_bulk(r: &mut impl Read, chunk: usize, total: u64) -> Result<()> {
    let mut buf = vec![0u8; chunk];
    let mut got = 0u64;
    while got < total {
        let n = r.read(&mut buf)?;
        if n == 0 {
            bail!("short stream");
        }
        got += n as u64;
    }
    Ok(())
}

fn sink(l: TcpListener) -> JoinHandle<Result<u64>> {
    peer(move || {
        let (mut c, _) = l.accept()?;
        let mut buf = vec![0u8; 256 << 10];
        let mut got = 0u64;
        while let n @ 1.. = c.read(&mut buf)? {
            got += n as u64;
        }
        Ok(got)
    })
}

/// The peer's result (a panic in the peer is an error of the measurement).
fn join<T>(p: JoinHandle<Result<T>>) -> Result<T> {
    p.join().map_err(|_| anyhow::anyhow!("peer panicked"))?
}

fn runner() -> &'static Runner {
    static R: OnceLock<Runner> = OnceLock::new();
    R.get_or_init(|| Runner::new().expect("runner"))
}

/// The async host, on the same engine (the components are compiled once).
fn async_runner() -> &'static AsyncRunner {
    static R: OnceLock<AsyncRunner> = OnceLock::new();
    R.get_or_init(|| AsyncRunner::with_engine(runner().engine().clone()).expect("runner"))
}

/// The synchronous host with wasmtime-wasi's own `wasi:sockets` (the reference).
fn wasmtime_runner() -> &'static Runner {
    static R: OnceLock<Runner> = OnceLock::new();
    R.get_or_init(|| {
        Runner::with_wasi_sockets(runner().engine().clone(), WasiSockets::WasmtimeWasi)
            .expect("runner")
    })
}

/// The async host with wasmtime-wasi's own `wasi:sockets`.
fn wasmtime_async_runner() -> &'static AsyncRunner {
    static R: OnceLock<AsyncRunner> = OnceLock::new();
    R.get_or_init(|| {
        AsyncRunner::with_wasi_sockets(runner().engine().clone(), WasiSockets::WasmtimeWasi)
            .expect("runner")
    })
}

fn component(name: &str) -> Result<Component> {
    static C: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Component>>> =
        OnceLock::new();
    let mut map = C.get_or_init(Default::default).lock().unwrap();
    if let Some(c) = map.get(name) {
        return Ok(c.clone());
    }
    let path = format!("{}/{name}.wasm", env!("SOCKBOX_BENCH_GUESTS"));
    let wasm = std::fs::read(&path).with_context(|| path.clone())?;
    let c = runner().compile(&wasm).map_err(anyhow::Error::from)?;
    map.insert(name.to_string(), c.clone());
    Ok(c)
}

/// The arguments a bench guest takes.
fn guest_args(
    workload: &str,
    port: u16,
    size: u64,
    chunk: usize,
    nodelay: bool,
    path: Option<&str>,
) -> Vec<String> {
    let mut v = vec![
        "bench".to_string(),
        workload.to_string(),
        port.to_string(),
        size.to_string(),
        chunk.to_string(),
        if nodelay { "1" } else { "0" }.to_string(),
    ];
    v.extend(path.map(str::to_string));
    v
}

/// A guest ready to run: the component and its contexts.
struct GuestRun {
    /// How it runs.
    way: Way,
    component: Component,
    wasi: WasiCtx,
    sockets: SocketCtx,
}

fn guest(
    way: Way,
    args: Vec<String>,
    dir: Option<&Path>,
    preopen: Option<(String, socket2::Socket)>,
) -> Result<GuestRun> {
    let wasi_guest = way.is_wasi_guest();
    let name = if wasi_guest {
        "bench-wasi"
    } else {
        "bench-sockbox"
    };
    let mut wasi = WasiCtx::builder();
    wasi.args(&args);
    if matches!(way, Way::Wasi | Way::WasiAsync) {
        wasi.inherit_network()
            .allow_tcp(true)
            .allow_ip_name_lookup(false);
    }
    if let Some(dir) = dir {
        wasi.preopened_dir(dir, "/bench", FsPerms::ReadOnly)
            .map_err(anyhow::Error::from)?;
    }
    let mut policy = Policy::builder()
        .allow_connect("127.0.0.1")
        .map_err(anyhow::Error::msg)?;
    if way == Way::WasiOnSockbox {
        // The std::net guest binds its own listener (the accept row).
        policy = policy.allow_bind("127.0.0.1").map_err(anyhow::Error::msg)?;
    }
    let mut sockets = SocketCtx::builder().policy(policy.build());
    if args.get(1).is_some_and(|w| w.starts_with("tls-")) {
        sockets = sockets.tls_roots_pem(tls_identity().ca_pem.as_bytes())?;
    }
    if let Some((n, s)) = preopen {
        sockets = sockets.preopen(n, s);
    }
    Ok(GuestRun {
        way,
        component: component(name)?,
        wasi: wasi.build(),
        sockets: sockets.build()?,
    })
}

/// Instantiates (untimed) and runs (timed) a guest on the client CPU.
fn run_guest(g: GuestRun) -> Result<Sample> {
    if g.way.is_async() {
        let runner = g.way.async_runner();
        return on_client(
            move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                let inst = rt
                    .block_on(runner.instantiate(&g.component, g.wasi, g.sockets))
                    .map_err(anyhow::Error::from)?;
                Ok((rt, inst))
            },
            |(rt, inst)| exited(rt.block_on(inst.run())),
        );
    }
    let runner = g.way.runner();
    on_client(
        move || {
            runner
                .instantiate(&g.component, g.wasi, g.sockets)
                .map_err(anyhow::Error::from)
        },
        |inst| exited(inst.run()),
    )
}

/// A guest's run that must have exited 0.
fn exited(run: wasmtime::Result<i32>) -> Result<()> {
    let code = run.map_err(anyhow::Error::from)?;
    if code != 0 {
        bail!("guest exited with {code}");
    }
    Ok(())
}

fn listener() -> Result<(TcpListener, u16)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let port = l.local_addr()?.port();
    Ok((l, port))
}

/// One measurement of `row` run `way`.
fn measure(row: &Row, way: Way, files: &Path) -> Result<Sample> {
    let nodelay = row.nodelay;
    match row.work {
        Work::Send { total, chunk } => {
            let (l, port) = listener()?;
            let p = sink(l);
            let s = match way {
                Way::Native => on_client(
                    move || {
                        let s = TcpStream::connect(("127.0.0.1", port))?;
                        s.set_nodelay(nodelay)?;
                        Ok(s)
                    },
                    move |mut s| write_bulk(&mut s, 0x5a, chunk, total),
                )?,
                _ => run_guest(guest(
                    way,
                    guest_args("send", port, total, chunk, nodelay, None),
                    None,
                    None,
                )?)?,
            };
            let got = join(p)?;
            if got != total {
                bail!("the peer got {got} of {total} bytes");
            }
            Ok(s)
        }
        Work::Recv { total, chunk, into } => {
            let (l, port) = listener()?;
            let p = peer(move || {
                let (mut c, _) = l.accept()?;
                write_bulk(&mut c, 0xa5, 64 << 10, total)
            });
            let s = match way {
                Way::Native => on_client(
                    move || Ok(TcpStream::connect(("127.0.0.1", port))?),
                    move |mut s| read_bulk(&mut s, chunk, total),
                )?,
                _ => run_guest(guest(
                    way,
                    guest_args(
                        if into && way.is_sockbox() {
                            "recv-into"
                        } else {
                            "recv"
                        },
                        port,
                        total,
                        chunk,
                        nodelay,
                        None,
                    ),
                    None,
                    None,
                )?)?,
            };
            join(p)?;
            Ok(s)
        }
        Work::Rtt { count } => {
            let (l, port) = listener()?;
            let p = peer(move || {
                let (mut c, _) = l.accept()?;
                c.set_nodelay(nodelay)?;
                let mut b = [0u8; 1];
                for _ in 0..count {
                    c.read_exact(&mut b)?;
                    c.write_all(&b)?;
                }
                Ok(())
            });
            let s = match way {
                Way::Native => on_client(
                    move || {
                        let s = TcpStream::connect(("127.0.0.1", port))?;
                        s.set_nodelay(nodelay)?;
                        Ok(s)
                    },
                    move |mut s| {
                        let mut b = [0u8; 1];
                        for _ in 0..count {
                            s.write_all(b"x")?;
                            s.read_exact(&mut b)?;
                        }
                        Ok(())
                    },
                )?,
                _ => run_guest(guest(
                    way,
                    guest_args("rtt", port, count, 1, nodelay, None),
                    None,
                    None,
                )?)?,
            };
            join(p)?;
            Ok(s)
        }
        Work::Sendfile { total } => {
            let path = files.join("sendfile.bin");
            if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(total) {
                write_bulk(&mut std::fs::File::create(&path)?, 0x3c, 1 << 20, total)?;
            }
            let (l, port) = listener()?;
            let p = sink(l);
            let s = match way {
                Way::Native => {
                    let path = path.clone();
                    on_client(
                        move || {
                            let s = socket2::Socket::from(std::os::fd::OwnedFd::from(
                                TcpStream::connect(("127.0.0.1", port))?,
                            ));
                            Ok((s, std::fs::File::open(path)?))
                        },
                        move |(s, f)| {
                            let mut off = 0usize;
                            while (off as u64) < total {
                                let n =
                                    s.sendfile(&f, off, std::num::NonZeroUsize::new(1 << 30))?;
                                if n == 0 {
                                    break;
                                }
                                off += n;
                            }
                            Ok(())
                        },
                    )?
                }
                Way::Sockbox | Way::SockboxAsync => run_guest(guest(
                    way,
                    guest_args(
                        "sendfile",
                        port,
                        total,
                        64 << 10,
                        false,
                        Some("/bench/sendfile.bin"),
                    ),
                    Some(files),
                    None,
                )?)?,
                _ => run_guest(guest(
                    Way::Sockbox,
                    guest_args(
                        "readsend",
                        port,
                        total,
                        64 << 10,
                        false,
                        Some("/bench/sendfile.bin"),
                    ),
                    Some(files),
                    None,
                )?)?,
            };
            let got = join(p)?;
            if got != total {
                bail!("the peer got {got} of {total} bytes");
            }
            Ok(s)
        }
        Work::Accept { count } => accept(way, count),
        Work::TlsRecv { .. } | Work::TlsRtt { .. } | Work::TlsHandshakes { .. } => {
            tls_measure(row.work, way)
        }
        Work::Startup => {
            // One start is tens of microseconds of noise: take the median of several.
            let mut runs = (0..STARTUPS_PER_ROUND)
                .map(|_| startup(way))
                .collect::<Result<Vec<_>>>()?;
            runs.sort_by_key(|s| s.wall);
            Ok(runs[runs.len() / 2])
        }
    }
}

/// Starts measured per round for the startup row (their median is the round's sample).
const STARTUPS_PER_ROUND: usize = 21;

/// The client accepts `count` connections a native peer makes and closes.
fn accept(way: Way, count: u64) -> Result<Sample> {
    let connect_all = move |addr: SocketAddr| {
        peer(move || {
            for _ in 0..count {
                // The guest may not listen yet (wasi binds inside the run): retry briefly.
                let mut tries = 0;
                let c = loop {
                    match TcpStream::connect(addr) {
                        Ok(c) => break c,
                        Err(e)
                            if tries < 2000
                                && e.kind() == std::io::ErrorKind::ConnectionRefused =>
                        {
                            tries += 1;
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        Err(e) => return Err(e.into()),
                    }
                };
                drop(c);
            }
            Ok(())
        })
    };
    let s = match way {
        Way::Native => {
            let (l, port) = listener()?;
            let p = connect_all(([127, 0, 0, 1], port).into());
            let s = on_client(
                move || Ok(l),
                move |l| {
                    for _ in 0..count {
                        drop(l.accept()?);
                    }
                    Ok(())
                },
            )?;
            join(p)?;
            s
        }
        Way::Sockbox | Way::SockboxAsync => {
            let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
            let any: SocketAddr = "127.0.0.1:0".parse()?;
            l.bind(&any.into())?;
            l.listen(1024)?;
            let addr = l.local_addr()?.as_socket().context("addr")?;
            let p = connect_all(addr);
            let g = guest(
                way,
                guest_args("accept", addr.port(), count, 0, false, None),
                None,
                Some((addr.to_string(), l)),
            )?;
            let s = run_guest(g)?;
            join(p)?;
            s
        }
        _ => {
            // wasi binds the port itself: find a free one.
            let port = listener()?.1;
            let p = connect_all(([127, 0, 0, 1], port).into());
            let s = run_guest(guest(
                way,
                guest_args("accept", port, count, 0, false, None),
                None,
                None,
            )?)?;
            join(p)?;
            s
        }
    };
    Ok(s)
}

/// From "instantiate" to the peer's first byte (the native way: connect and send).
fn startup(way: Way) -> Result<Sample> {
    let peers_before = PEER_CPU_NS.load(Ordering::SeqCst);
    let (l, port) = listener()?;
    let p = peer(move || {
        let (mut c, _) = l.accept()?;
        let mut b = [0u8; 1];
        c.read_exact(&mut b)?;
        Ok(Instant::now())
    });
    let start = Instant::now();
    let cpu = match way {
        Way::Native => on_client(
            || Ok(()),
            move |()| {
                TcpStream::connect(("127.0.0.1", port))?.write_all(b"!")?;
                Ok(())
            },
        )?,
        _ => {
            let g = guest(
                way,
                guest_args("startup", port, 1, 1, false, None),
                None,
                None,
            )?;
            // Instantiation is part of startup: time it with the run (a runtime for the async
            // host is made before).
            on_client(
                move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    Ok((rt, g))
                },
                |(rt, g)| {
                    if g.way.is_async() {
                        exited(rt.block_on(async {
                            g.way
                                .async_runner()
                                .run(&g.component, g.wasi, g.sockets)
                                .await
                        }))
                    } else {
                        exited(g.way.runner().run(&g.component, g.wasi, g.sockets))
                    }
                },
            )?
        }
    };
    let first = join(p)?;
    let mut s = Sample {
        wall: first.saturating_duration_since(start),
        ..cpu
    };
    // This start's own, not the ones after it in the round.
    s.settle(peers_before);
    Ok(s)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn summarize(row: &Row, samples: Vec<Vec<Sample>>) -> RowResult {
    let ops = ops(row.work);
    let ways: Vec<WayResult> = row
        .ways
        .iter()
        .zip(samples)
        .map(|(&way, s)| {
            let walls: Vec<f64> = s.iter().map(|x| x.wall.as_secs_f64()).collect();
            let cpus: Vec<f64> = s.iter().map(|x| x.cpu.as_secs_f64()).collect();
            let wall = median(walls.clone());
            let spread = (walls.iter().cloned().fold(f64::MIN, f64::max)
                - walls.iter().cloned().fold(f64::MAX, f64::min))
                / wall;
            let cpu = median(cpus);
            let user = median(s.iter().map(|x| x.user.as_secs_f64()).collect());
            WayResult {
                way,
                wall_median_s: wall,
                wall_spread: spread,
                cpu_median_s: cpu,
                cpu_per_op_ns: cpu * 1e9 / ops as f64,
                user_median_s: user,
                samples: s,
            }
        })
        .collect();
    let get = |w: Way| ways.iter().find(|r| r.way == w);
    let native = get(Way::Native);
    let sockbox = get(Way::Sockbox);
    let third = get(Way::Wasi).or(get(Way::GuestLoop));
    let wall_ratio = native
        .zip(sockbox)
        .map(|(n, s)| s.wall_median_s / n.wall_median_s);
    let cpu_ratio = native
        .zip(sockbox)
        .map(|(n, s)| s.cpu_median_s / n.cpu_median_s);
    let vs_third = third
        .zip(sockbox)
        .map(|(t, s)| s.wall_median_s / t.wall_median_s);
    let sockbox_async = get(Way::SockboxAsync);
    let async_vs_sync_cpu = sockbox
        .zip(sockbox_async)
        .map(|(s, a)| a.cpu_median_s / s.cpu_median_s);
    let async_vs_wasi_async = get(Way::WasiAsync)
        .zip(sockbox_async)
        .map(|(w, a)| a.wall_median_s / w.wall_median_s);
    let wasi_sockbox_vs_wasmtime = get(Way::Wasi)
        .zip(get(Way::WasiOnSockbox))
        .map(|(w, s)| s.wall_median_s / w.wall_median_s);
    let async_met = async_vs_sync_cpu
        .map(|c| c <= ASYNC_CPU_TARGET && async_vs_wasi_async.is_none_or(|v| v <= 1.0));
    let met = match row.target {
        Target::WallAtMost(x) => wall_ratio.map(|r| r <= x),
        Target::CpuAtMost(x) => cpu_ratio.map(|r| r <= x),
        Target::CpuAndThroughput(c, t) => wall_ratio
            .zip(cpu_ratio)
            .map(|(w, r)| r <= c && 1.0 / w >= t),
        Target::Sendfile(n, l) => wall_ratio
            .zip(vs_third)
            .map(|(w, v)| 1.0 / w >= n && 1.0 / v >= l),
        Target::RateAtLeast(x) => wall_ratio.map(|w| 1.0 / w >= x),
        Target::StartupAtMost(x) => vs_third.map(|v| v <= x),
        Target::NotSlowerThanWasi => vs_third.map(|v| v <= 1.0),
    };
    RowResult {
        name: row.name.clone(),
        ops,
        nodelay: row.nodelay,
        target: row.target,
        ways,
        wall_ratio,
        cpu_ratio,
        vs_third,
        met,
        async_vs_sync_cpu,
        async_vs_wasi_async,
        async_met,
        wasi_sockbox_vs_wasmtime,
    }
}

/// The async host's CPU per op, at most this many times the synchronous host's.
const ASYNC_CPU_TARGET: f64 = 1.10;

fn target_text(t: Target) -> String {
    match t {
        Target::WallAtMost(x) => format!("wall ≤{x}× native"),
        Target::CpuAtMost(x) => format!("CPU/op ≤{x}× native"),
        Target::CpuAndThroughput(c, t) => format!("CPU/op ≤{c}×, thpt ≥{t}× native"),
        Target::Sendfile(n, l) => format!("≥{n}× native, ≥{l}× loop"),
        Target::RateAtLeast(x) => format!("rate ≥{x}× native"),
        Target::StartupAtMost(x) => format!("≤{x}× wasi guest"),
        Target::NotSlowerThanWasi => "≤1× wasi".to_string(),
    }
}

fn print_table(results: &[RowResult], quick: bool) {
    println!(
        "| workload | native wall | sockbox wall | wasi:sockets / loop wall | sockbox/native wall | sockbox/native CPU per op | sockbox/wasi (loop) | spread (sockbox) | target | met |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        let wall = |w: Way| {
            r.ways
                .iter()
                .find(|x| x.way == w)
                .map_or("–".to_string(), |x| fmt_time(x.wall_median_s))
        };
        let third = r
            .ways
            .iter()
            .find(|x| x.way == Way::Wasi || x.way == Way::GuestLoop)
            .map_or("–".to_string(), |x| fmt_time(x.wall_median_s));
        let spread = r
            .ways
            .iter()
            .find(|x| x.way == Way::Sockbox)
            .map_or("–".to_string(), |x| {
                format!("±{:.0}%", 50.0 * x.wall_spread)
            });
        let ratio = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}×"));
        let met = match (quick, r.met) {
            (true, _) => "(quick)",
            (_, Some(true)) => "yes",
            (_, Some(false)) => "NO",
            (_, None) => "–",
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            wall(Way::Native),
            wall(Way::Sockbox),
            third,
            ratio(r.wall_ratio),
            ratio(r.cpu_ratio),
            ratio(r.vs_third),
            spread,
            target_text(r.target),
            met
        );
    }
}

/// The async host's rows: sockbox on it against sockbox on the synchronous host (CPU per op)
/// and against wasmtime-wasi's async host serving the `wasi:sockets` guest (wall).
fn print_async_table(results: &[RowResult], quick: bool) {
    println!();
    println!(
        "| workload (async host) | sockbox sync wall | sockbox async wall | wasi:sockets async wall | async/sync CPU per op | sockbox/wasi, both async | target | met |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for r in results.iter().filter(|r| r.async_vs_sync_cpu.is_some()) {
        let wall = |w: Way| {
            r.ways
                .iter()
                .find(|x| x.way == w)
                .map_or("–".to_string(), |x| fmt_time(x.wall_median_s))
        };
        let ratio = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.3}×"));
        let target = if r.async_vs_wasi_async.is_some() {
            format!("CPU/op ≤{ASYNC_CPU_TARGET}× sync, ≤1× wasi async")
        } else {
            format!("CPU/op ≤{ASYNC_CPU_TARGET}× sync")
        };
        let met = match (quick, r.async_met) {
            (true, _) => "(quick)",
            (_, Some(true)) => "yes",
            (_, Some(false)) => "NO",
            (_, None) => "–",
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            wall(Way::Sockbox),
            wall(Way::SockboxAsync),
            wall(Way::WasiAsync),
            ratio(r.async_vs_sync_cpu),
            ratio(r.async_vs_wasi_async),
            target,
            met
        );
    }
}

/// The `wasi:sockets` guest (Rust std::net, no sockbox in it) served by sockbox's
/// `wasi:sockets` against the same guest on wasmtime-wasi's, both on the synchronous host.
fn print_wasi_table(results: &[RowResult], quick: bool) {
    println!();
    println!(
        "| workload (std::net guest) | on wasmtime-wasi wall | on sockbox wall | sockbox/wasmtime-wasi | target | met |"
    );
    println!("|---|---|---|---|---|---|");
    for r in results
        .iter()
        .filter(|r| r.wasi_sockbox_vs_wasmtime.is_some())
    {
        let wall = |w: Way| {
            r.ways
                .iter()
                .find(|x| x.way == w)
                .map_or("–".to_string(), |x| fmt_time(x.wall_median_s))
        };
        let ratio = r
            .wasi_sockbox_vs_wasmtime
            .map_or("–".to_string(), |v| format!("{v:.3}×"));
        let met = match (quick, r.wasi_sockbox_vs_wasmtime) {
            (true, _) => "(quick)",
            (_, Some(v)) if v <= 1.0 => "yes",
            (_, Some(_)) => "NO",
            (_, None) => "–",
        };
        println!(
            "| {} | {} | {} | {} | ≤1× | {} |",
            r.name,
            wall(Way::Wasi),
            wall(Way::WasiOnSockbox),
            ratio,
            met
        );
    }
}

fn fmt_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}
