//! The benchmark's guest programs (`src/bin`): the same workloads on sockbox and on
//! `wasi:sockets` through Rust's `std::net`.

/// The workload arguments every bench guest takes: `WORKLOAD PORT SIZE CHUNK NODELAY [PATH]`.
#[derive(Debug)]
pub struct Args {
    /// `send`, `recv`, `recv-into`, `rtt`, `accept`, `sendfile`, `readsend`, `startup`;
    /// `tls-recv`, `tls-rtt`, `tls-handshakes` (sockbox only).
    pub workload: String,
    /// The native peer's port on 127.0.0.1 (or the port to listen on, for `accept`).
    pub port: u16,
    /// Bytes (bulk), round trips (`rtt`) or connections (`accept`).
    pub size: u64,
    /// Bytes per write or read.
    pub chunk: usize,
    /// TCP_NODELAY.
    pub nodelay: bool,
    /// A file to send (`sendfile`, `readsend`).
    pub path: Option<String>,
}

impl Args {
    /// Parses the process arguments.
    ///
    /// # Panics
    /// On malformed arguments: the harness passes them.
    pub fn parse() -> Args {
        let a: Vec<String> = std::env::args().skip(1).collect();
        Args {
            workload: a[0].clone(),
            port: a[1].parse().expect("port"),
            size: a[2].parse().expect("size"),
            chunk: a[3].parse().expect("chunk"),
            nodelay: a[4] == "1",
            path: a.get(5).cloned(),
        }
    }
}
