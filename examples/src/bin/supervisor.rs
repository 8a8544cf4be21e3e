//! The supervisor of an fd-passing pair: it accepts TCP connections on the listener the host
//! hands it and passes each one, with SCM_RIGHTS, to the worker listening on a Unix socket.
//! It never reads a byte of the traffic.
//!
//! ```text
//! sockbox run --listen unix:/tmp/work.sock worker.wasm
//! sockbox run --listen 127.0.0.1:8080 --allow-unix /tmp/work.sock --allow-fd-passing \
//!     supervisor.wasm /tmp/work.sock
//! ```

use std::path::Path;

use sockbox::{AddressFamily, Errno, Error, Fd, MsgFlags, Socket, SocketKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let worker_path = std::env::args()
        .nth(1)
        .ok_or("usage: supervisor WORKER_SOCKET")?;
    let (listener, name) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("no preopened socket: run with --listen ADDR")?;
    let worker = Socket::new(AddressFamily::Unix, SocketKind::Stream, 0)?;
    worker.connect(Path::new(&worker_path))?;
    eprintln!("supervisor: accepting on {name}, handing connections to {worker_path}");
    loop {
        let (conn, peer) = match listener.accept() {
            Ok(c) => c,
            Err(Error::Os {
                errno: Errno::Canceled,
                ..
            }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let note = peer.to_string();
        sockbox::send_fds(
            &worker,
            &[note.as_bytes()],
            &[Fd::Socket(&conn)],
            MsgFlags::empty(),
            None,
        )?;
        // Our copy closes here; the worker's keeps the connection.
    }
}
