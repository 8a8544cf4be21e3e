//! Process starts: `sockbox run` of a plugin that makes one socket and prints a line, run as a
//! user runs it (a child process), with wall time and the child's peak RSS. The first run
//! compiles the component into a fresh wasmtime cache (cold); later runs load it from the
//! cache (warm); and `sockbox compile`'s precompiled file is mapped instead (precompiled).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// One plugin's starts.
#[derive(Serialize)]
pub(crate) struct Starts {
    plugin: &'static str,
    cold_wall_s: f64,
    cold_rss_mib: f64,
    warm_wall_s: f64,
    warm_rss_mib: f64,
    precompiled_wall_s: f64,
    precompiled_rss_mib: f64,
    runs: usize,
}

/// Measures the plugins' starts, prints the table and writes `json`.
pub(crate) fn run(quick: bool, rust_guests: &Path, json: &Path) -> Result<()> {
    let sockbox = std::env::current_exe()?.with_file_name("sockbox");
    if !sockbox.exists() {
        eprintln!(
            "sockbox-bench: no {} beside the bench: process starts skipped \
             (cargo build --release --bin sockbox)",
            sockbox.display()
        );
        return Ok(());
    }
    let python = python_plugin()?;
    let warm_runs = if quick { 2 } else { 11 };
    let plugins: [(&'static str, PathBuf, &[&str]); 3] = [
        (
            "Rust, wasi only",
            rust_guests.join("bench-wasi.wasm"),
            &["hello", "0", "0", "0", "0"],
        ),
        (
            "Rust, sockbox",
            rust_guests.join("bench-sockbox.wasm"),
            &["hello", "0", "0", "0", "0"],
        ),
        ("Python, sockbox", python, &[]),
    ];
    let mut results = Vec::new();
    for (plugin, wasm, args) in plugins {
        let cache = tempfile::tempdir()?;
        let once = |file: &Path| start(&sockbox, cache.path(), file, args);
        let cold = once(&wasm).with_context(|| plugin.to_string())?;
        let cwasm = cache.path().join("plugin.cwasm");
        let compiled = Command::new(&sockbox)
            .arg("compile")
            .arg(&wasm)
            .arg("-o")
            .arg(&cwasm)
            .output()?;
        if !compiled.status.success() {
            bail!("sockbox compile {}: {compiled:?}", wasm.display());
        }
        // Interleaved, so that the machine's drift falls on both alike.
        let (mut warm, mut pre) = (Vec::new(), Vec::new());
        for _ in 0..warm_runs {
            warm.push(once(&wasm)?);
            pre.push(once(&cwasm)?);
        }
        let wall = |v: &[(Duration, u64)]| median(v.iter().map(|w| w.0.as_secs_f64()).collect());
        let rss = |v: &[(Duration, u64)]| median(v.iter().map(|w| mib(w.1)).collect());
        results.push(Starts {
            plugin,
            cold_wall_s: cold.0.as_secs_f64(),
            cold_rss_mib: mib(cold.1),
            warm_wall_s: wall(&warm),
            warm_rss_mib: rss(&warm),
            precompiled_wall_s: wall(&pre),
            precompiled_rss_mib: rss(&pre),
            runs: warm_runs,
        });
    }
    print(&results, quick);
    std::fs::write(json, serde_json::to_string_pretty(&results)?)?;
    Ok(())
}

/// The Python plugin, built with `sockbox python build`'s code into the test suite's cache.
fn python_plugin() -> Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("target/bench/hello-python.wasm");
    let mut build = sockbox_cli::python::Build::new(root.join("bench/python/hello.py"), &out);
    build.cache = root.join("target/python");
    build.run(&mut |step| eprintln!("sockbox-bench: {step}"))?;
    Ok(out)
}

/// One `sockbox run`: its wall time and peak RSS in bytes.
fn start(sockbox: &Path, cache: &Path, wasm: &Path, args: &[&str]) -> Result<(Duration, u64)> {
    let begin = Instant::now();
    let child = Command::new(sockbox)
        .env("XDG_CACHE_HOME", cache)
        .arg("run")
        .arg(wasm)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct wait4 fills; `pid` is our unreaped child, reaped
    // here instead of by `Child::wait` (which `child` is never asked to do) so its rusage is
    // this run's alone.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::wait4(pid, &mut status, 0, &mut usage) != pid {
            bail!("wait4: {}", std::io::Error::last_os_error());
        }
        usage
    };
    let wall = begin.elapsed();
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("sockbox run {} exited with {status:#x}", wasm.display());
    }
    // ru_maxrss is in KiB on Linux.
    Ok((wall, u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The table, with the targets: a warm Python start ≤0.25 s and ≤100 MB; a warm Rust sockbox
/// start ≤1.2× the wasi-only one (both from the cache, and both precompiled).
fn print(results: &[Starts], quick: bool) {
    println!();
    println!(
        "Process starts (`sockbox run`, {} warm runs){}:",
        results.first().map_or(0, |r| r.runs),
        if quick {
            " (quick: not a measurement)"
        } else {
            ""
        }
    );
    println!();
    println!(
        "| plugin | first run (compiles) | peak RSS | from the cache | peak RSS | precompiled | \
         peak RSS | target | met |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let wasi = results.first();
    for r in results {
        let (target, met) = match (r.plugin, wasi) {
            ("Rust, sockbox", Some(w)) => (
                "≤1.2× wasi only (cache and precompiled)",
                r.warm_wall_s <= 1.2 * w.warm_wall_s
                    && r.precompiled_wall_s <= 1.2 * w.precompiled_wall_s,
            ),
            ("Python, sockbox", _) => (
                "warm ≤0.25 s, ≤100 MB (both)",
                r.warm_wall_s.max(r.precompiled_wall_s) <= 0.25
                    && r.warm_rss_mib.max(r.precompiled_rss_mib) * 1024.0 * 1024.0 <= 100e6,
            ),
            _ => ("–", true),
        };
        println!(
            "| {} | {:.3} s | {:.0} MiB | {:.3} s | {:.0} MiB | {:.3} s | {:.0} MiB | {target} | {} |",
            r.plugin,
            r.cold_wall_s,
            r.cold_rss_mib,
            r.warm_wall_s,
            r.warm_rss_mib,
            r.precompiled_wall_s,
            r.precompiled_rss_mib,
            if target == "–" {
                "–"
            } else if met {
                "yes"
            } else {
                "NO"
            }
        );
    }
}
