//! `--scale`: many guests on one thread of the async host, many connections each.
//!
//! 1,000 instances of the `chat-server` example (one `Poller` each) run on a current-thread
//! tokio runtime through `AsyncRunner`; a client process (this binary again, with
//! `--scale-client`, so the two sides' descriptors fit in separate limits) opens 10 connections
//! to each. Reported: the bench process's resident memory per idle instance and per
//! connection, the rate of accept-plus-first-echo, and the steady echo rate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use sockbox_host::run::AsyncRunner;
use sockbox_host::{Policy, SocketCtx};
use wasmtime_wasi::WasiCtx;

/// What the scale run measured.
#[derive(Serialize)]
struct ScaleResult {
    instances: usize,
    connections: usize,
    rss_before_kib: u64,
    rss_instances_kib: u64,
    rss_connections_kib: u64,
    kib_per_instance: f64,
    kib_per_connection: f64,
    accept_and_first_echo_per_sec: f64,
    echo_round_trips_per_sec: f64,
}

/// The resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs the scale measurement and writes its JSON to `json`.
pub(crate) fn run(instances: usize, per: usize, json: &std::path::Path) -> Result<()> {
    let runner = Arc::new(AsyncRunner::new().map_err(anyhow::Error::from)?);
    let wasm_path = format!("{}/chat-server.wasm", env!("SOCKBOX_BENCH_GUESTS"));
    let wasm = std::fs::read(&wasm_path).with_context(|| wasm_path.clone())?;
    let component = runner.compile(&wasm).map_err(anyhow::Error::from)?;
    let rss_before = rss_kib();
    let mut ports = Vec::new();
    let mut guests = Vec::new();
    for _ in 0..instances {
        let sa: SocketAddr = "127.0.0.1:0".parse()?;
        let listener = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        listener.bind(&sa.into())?;
        listener.listen(i32::try_from(per * 2).unwrap_or(i32::MAX))?;
        let local = listener
            .local_addr()?
            .as_socket()
            .context("an IP listener")?;
        ports.push(local.port());
        let ctx = SocketCtx::builder()
            .policy(Policy::deny_all())
            .preopen(local.to_string(), listener)
            .build()?;
        let mut wasi = WasiCtx::builder();
        wasi.arg("chat-server").arg(per.to_string());
        guests.push((wasi.build(), ctx));
    }
    // One thread, one current-thread runtime, every guest.
    let started = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&started);
    let guest_thread = std::thread::spawn(move || -> Result<Vec<i32>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let mut tasks = Vec::new();
            for (wasi, ctx) in guests {
                let (runner, component) = (Arc::clone(&runner), component.clone());
                let count = Arc::clone(&count);
                tasks.push(tokio::spawn(async move {
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    runner.run(&component, wasi, ctx).await
                }));
            }
            let mut codes = Vec::new();
            for t in tasks {
                codes.push(t.await?.map_err(anyhow::Error::from)?);
            }
            Ok(codes)
        })
    });
    while started.load(std::sync::atomic::Ordering::Relaxed) < instances {
        std::thread::sleep(Duration::from_millis(50));
    }
    // Each instance runs until it blocks in its Poller; let the last ones get there.
    std::thread::sleep(Duration::from_secs(1));
    let rss_instances = rss_kib();

    let mut client = Command::new(std::env::current_exe()?)
        .arg("--scale-client")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut to_client = client.stdin.take().context("client stdin")?;
    let mut from_client = BufReader::new(client.stdout.take().context("client stdout")?);
    writeln!(to_client, "{per}")?;
    for p in &ports {
        writeln!(to_client, "{p}")?;
    }
    let mut step = |cmd: &str| -> Result<f64> {
        writeln!(to_client, "{cmd}")?;
        to_client.flush()?;
        let mut line = String::new();
        from_client.read_line(&mut line)?;
        line.split_whitespace()
            .last()
            .with_context(|| format!("client said {line:?}"))?
            .parse::<f64>()
            .with_context(|| format!("client said {line:?}"))
    };
    let connections = instances * per;
    let first = step("connect-and-echo")?;
    let rss_connections = rss_kib();
    let steady = step("echo")?;
    step("close")?;
    let codes = guest_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the guest thread panicked"))??;
    if let Some(bad) = codes.iter().find(|c| **c != 0) {
        bail!("a chat-server instance exited with {bad}");
    }
    client.wait()?;
    let result = ScaleResult {
        instances,
        connections,
        rss_before_kib: rss_before,
        rss_instances_kib: rss_instances,
        rss_connections_kib: rss_connections,
        kib_per_instance: rss_instances.saturating_sub(rss_before) as f64 / instances as f64,
        kib_per_connection: rss_connections.saturating_sub(rss_instances) as f64
            / connections as f64,
        accept_and_first_echo_per_sec: connections as f64 / first,
        echo_round_trips_per_sec: connections as f64 / steady,
    };
    println!(
        "| scale: {instances} instances, {connections} connections, one thread | {:.0} KiB per instance | {:.1} KiB per connection | accept + first echo {:.0}/s | echo {:.0} round trips/s |",
        result.kib_per_instance,
        result.kib_per_connection,
        result.accept_and_first_echo_per_sec,
        result.echo_round_trips_per_sec
    );
    if let Some(dir) = json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(json, serde_json::to_string_pretty(&result)?)?;
    eprintln!("sockbox-bench: wrote {}", json.display());
    Ok(())
}

/// The client side (`--scale-client`): reads the connections per listener and the ports from
/// stdin, then obeys `connect-and-echo`, `echo` and `close`, answering each with its seconds.
pub(crate) fn client() -> Result<()> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let per: usize = lines.next().context("per")??.trim().parse()?;
    let mut ports = Vec::new();
    let mut conns: Vec<TcpStream> = Vec::new();
    let msg = [7u8; 64];
    let mut out = std::io::stdout();
    for line in lines {
        let line = line?;
        let cmd = line.trim();
        if let Ok(port) = cmd.parse::<u16>() {
            ports.push(port);
            continue;
        }
        let start = Instant::now();
        match cmd {
            "connect-and-echo" => {
                for &port in &ports {
                    for _ in 0..per {
                        let c = TcpStream::connect(("127.0.0.1", port))?;
                        c.set_nodelay(true)?;
                        c.set_read_timeout(Some(Duration::from_secs(120)))?;
                        conns.push(c);
                    }
                }
                echo_all(&mut conns, &msg)?;
            }
            "echo" => echo_all(&mut conns, &msg)?,
            "close" => conns.clear(),
            other => bail!("unknown command {other:?}"),
        }
        writeln!(out, "{cmd} {}", start.elapsed().as_secs_f64())?;
        out.flush()?;
        if cmd == "close" {
            break;
        }
    }
    Ok(())
}

/// Sends `msg` on every connection, then reads every echo.
fn echo_all(conns: &mut [TcpStream], msg: &[u8]) -> Result<()> {
    for c in conns.iter_mut() {
        c.write_all(msg)?;
    }
    let mut back = vec![0u8; msg.len()];
    for c in conns.iter_mut() {
        c.read_exact(&mut back)?;
        if back != msg {
            bail!("a wrong echo");
        }
    }
    Ok(())
}
