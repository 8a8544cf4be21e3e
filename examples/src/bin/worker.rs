//! The worker of an fd-passing pair (see `supervisor`): it takes the supervisor's connection on
//! the Unix socket the host hands it, receives client connections as descriptors, and serves
//! each: a line in, the line in upper case out.

use std::io::{BufRead, Write};
use std::time::Duration;

use sockbox::{Errno, Error, MsgFlags};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (listener, name) = sockbox::preopened_sockets()?
        .into_iter()
        .next()
        .ok_or("no preopened socket: run with --listen unix:PATH")?;
    eprintln!("worker: waiting for the supervisor on {name}");
    let (supervisor, _) = listener.accept()?;
    loop {
        let m = match sockbox::recv_fds(&supervisor, 256, 1, MsgFlags::empty()) {
            Ok(m) => m,
            Err(Error::Os {
                errno: Errno::Canceled,
                ..
            }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if m.data.is_empty() && m.fds.is_empty() {
            return Ok(()); // the supervisor went away
        }
        for fd in m.fds {
            let conn = fd.into_socket()?;
            conn.settimeout(Some(Duration::from_secs(10)));
            let mut line = String::new();
            conn.makefile("rb")?.read_line(&mut line)?;
            let mut out = conn.makefile("wb")?;
            out.write_all(line.to_uppercase().as_bytes())?;
            out.flush()?;
            eprintln!("worker: served {}", String::from_utf8_lossy(&m.data));
        }
    }
}
