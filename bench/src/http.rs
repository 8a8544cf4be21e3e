//! HTTP file serving: the `file-server` example under `sockbox run` against nginx, serving the
//! same files to the same native client, interleaved round by round. Request rates (and
//! throughput for the large file); the ratio is file-server / nginx.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// One workload's medians.
#[derive(Serialize)]
pub(crate) struct HttpRow {
    workload: &'static str,
    file_server_per_s: f64,
    nginx_per_s: f64,
    ratio: f64,
}

/// A workload: which file, how many requests, over how many connections at once, and
/// whether each request opens a connection of its own.
struct Workload {
    name: &'static str,
    path: &'static str,
    requests: usize,
    clients: usize,
    keep_alive: bool,
}

/// A server process, killed when dropped.
struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Measures, prints the table and writes `json`; skipped (with a note) without nginx or the
/// `sockbox` program beside the bench.
pub(crate) fn run(quick: bool, rounds: usize, guests: &Path, json: &Path) -> Result<()> {
    let sockbox = std::env::current_exe()?.with_file_name("sockbox");
    let nginx = ["nginx", "/usr/sbin/nginx"]
        .into_iter()
        .find(|p| Command::new(p).arg("-v").output().is_ok());
    let (Some(nginx), true) = (nginx, sockbox.exists()) else {
        eprintln!(
            "sockbox-bench: HTTP file serving skipped (needs nginx and {})",
            sockbox.display()
        );
        return Ok(());
    };
    let www = tempfile::tempdir()?;
    std::fs::write(www.path().join("small.txt"), vec![b'x'; 1024])?;
    std::fs::write(www.path().join("large.bin"), vec![0x5a; 10 << 20])?;
    let state = tempfile::tempdir()?;
    let scale = |n: usize| if quick { (n / 100).max(2) } else { n };
    let workloads = [
        Workload {
            name: "1 KiB, keep-alive",
            path: "/small.txt",
            requests: scale(20_000),
            clients: 1,
            keep_alive: true,
        },
        Workload {
            name: "1 KiB, keep-alive, 8 clients",
            path: "/small.txt",
            requests: scale(40_000),
            clients: 8,
            keep_alive: true,
        },
        Workload {
            name: "1 KiB, a connection each",
            path: "/small.txt",
            requests: scale(5_000),
            clients: 1,
            keep_alive: false,
        },
        Workload {
            name: "10 MiB, keep-alive",
            path: "/large.bin",
            requests: scale(200),
            clients: 1,
            keep_alive: true,
        },
    ];
    let file_server = start_file_server(&sockbox, &guests.join("file-server.wasm"), www.path())?;
    let nginx = start_nginx(nginx, www.path(), state.path())?;
    let rounds = if quick { 1 } else { rounds.max(1) };
    let mut rows = Vec::new();
    for w in &workloads {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // Alternate which server goes first.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let port = if which == 0 { file_server.1 } else { nginx.1 };
                let rate = rate(port, w).with_context(|| format!("{} on port {port}", w.name))?;
                if which == 0 { &mut ours } else { &mut theirs }.push(rate);
            }
        }
        let (a, b) = (median(ours), median(theirs));
        rows.push(HttpRow {
            workload: w.name,
            file_server_per_s: a,
            nginx_per_s: b,
            ratio: a / b,
        });
    }
    println!();
    println!(
        "HTTP file serving, requests per second (median of {rounds} rounds){}:",
        if quick {
            " (quick: not a measurement)"
        } else {
            ""
        }
    );
    println!();
    println!("| workload | file-server (sockbox run) | nginx | file-server / nginx |");
    println!("|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.0} | {:.0} | {:.2}× |",
            r.workload, r.file_server_per_s, r.nginx_per_s, r.ratio
        );
    }
    std::fs::write(json, serde_json::to_string_pretty(&rows)?)?;
    Ok(())
}

/// `sockbox run --listen 127.0.0.1:0 --dir WWW::/srv file-server.wasm`, once it listens.
fn start_file_server(sockbox: &Path, wasm: &Path, www: &Path) -> Result<Server> {
    let mut child = Command::new(sockbox)
        .args(["run", "--listen", "127.0.0.1:0", "--dir"])
        .arg(format!("{}::/srv", www.display()))
        .arg(wasm)
        // No access log (nor has nginx here).
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
    let mut line = String::new();
    stderr.read_line(&mut line)?;
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("sockbox run said {line:?}"))?;
    // Its access log goes on; read it so the pipe never fills.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Ok(Server(child, port))
}

/// nginx serving `www` on a free loopback port (one worker, no access log, sendfile on).
fn start_nginx(nginx: &str, www: &Path, state: &Path) -> Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let s = state.display();
    let config = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {s}/nginx.pid;\n\
         error_log {s}/error.log;\nevents {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  keepalive_requests 1000000;\n\
         client_body_temp_path {s}/body;\n  proxy_temp_path {s}/proxy;\n\
         fastcgi_temp_path {s}/fastcgi;\n  uwsgi_temp_path {s}/uwsgi;\n\
         scgi_temp_path {s}/scgi;\n\
         server {{\n    listen 127.0.0.1:{port};\n    root {};\n  }}\n}}\n",
        www.display()
    );
    let file = state.join("nginx.conf");
    std::fs::write(&file, config)?;
    let child = Command::new(nginx)
        .arg("-e")
        .arg(state.join("error.log"))
        .arg("-c")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let server = Server(child, port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nginx did not start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

/// Requests per second for workload `w` against the server on `port`.
fn rate(port: u16, w: &Workload) -> Result<f64> {
    let per_client = w.requests / w.clients;
    let start = Instant::now();
    let clients: Vec<_> = (0..w.clients)
        .map(|_| {
            let (path, keep_alive) = (w.path, w.keep_alive);
            std::thread::spawn(move || client(port, path, per_client, keep_alive))
        })
        .collect();
    for c in clients {
        c.join().expect("client thread")?;
    }
    Ok((per_client * w.clients) as f64 / start.elapsed().as_secs_f64())
}

/// `count` GETs of `path`, on one connection or one each; checks each status and length.
fn client(port: u16, path: &str, count: usize, keep_alive: bool) -> Result<()> {
    let connect = || -> Result<_> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok((s.try_clone()?, BufReader::with_capacity(256 * 1024, s)))
    };
    let mut conn = connect()?;
    let mut body = vec![0u8; 256 * 1024];
    for i in 0..count {
        if !keep_alive && i > 0 {
            conn = connect()?;
        }
        let (w, r) = &mut conn;
        let close = if keep_alive {
            ""
        } else {
            "Connection: close\r\n"
        };
        write!(w, "GET {path} HTTP/1.1\r\nHost: bench\r\n{close}\r\n")?;
        let mut line = String::new();
        r.read_line(&mut line)?;
        if !line.starts_with("HTTP/1.1 200") {
            bail!("got {line:?}");
        }
        let mut length = None;
        loop {
            line.clear();
            r.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let mut left = length.context("no Content-Length")?;
        while left > 0 {
            let n = left.min(body.len());
            r.read_exact(&mut body[..n])?;
            left -= n;
        }
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
