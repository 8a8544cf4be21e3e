//! A single-threaded echo server for many clients at once: one `Poller` over the preopened
//! listener and every connection, non-blocking sockets, and output buffered until the socket
//! can take it. Each client gets back every byte it sends.
//!
//! ```sh
//! sockbox run --listen 127.0.0.1:7000 chat-server.wasm          # serves forever
//! sockbox run --listen 127.0.0.1:7000 chat-server.wasm 1000     # stops after 1000 clients
//! ```

use std::collections::HashMap;

use sockbox::{Errno, Error, Interest, Poller, Socket, preopened_sockets};

#[derive(Clone, Copy)]
enum Key {
    Listener,
    Client(u64),
}

struct Client {
    sock: Socket,
    /// Bytes received and not yet sent back.
    pending: Vec<u8>,
}

fn would_block(e: &Error) -> bool {
    e.errno() == Some(Errno::Again)
}

fn main() -> Result<(), Error> {
    let serve: Option<u64> = std::env::args().nth(1).and_then(|n| n.parse().ok());
    let (listener, name) = preopened_sockets()?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Value("no listener: run with --listen ADDR".into()))?;
    listener.setblocking(false);
    let mut poller = Poller::new();
    poller.register(&listener, Interest::READABLE, Key::Listener)?;
    let mut clients: HashMap<u64, Client> = HashMap::new();
    let (mut accepted, mut most) = (0u64, 0usize);
    eprintln!("chat-server: serving on {name}");
    loop {
        let ready: Vec<(Key, Interest)> = poller
            .select(None)?
            .into_iter()
            .map(|(key, interest)| (*key, interest))
            .collect();
        for (key, interest) in ready {
            match key {
                Key::Listener => loop {
                    if serve.is_some_and(|n| accepted >= n) {
                        break;
                    }
                    match listener.accept() {
                        Ok((sock, _)) => {
                            sock.setblocking(false);
                            poller.register(&sock, Interest::READABLE, Key::Client(accepted))?;
                            clients.insert(
                                accepted,
                                Client {
                                    sock,
                                    pending: Vec::new(),
                                },
                            );
                            accepted += 1;
                            most = most.max(clients.len());
                        }
                        Err(e) if would_block(&e) => break,
                        Err(e) => return Err(e),
                    }
                },
                Key::Client(id) => {
                    let Some(client) = clients.get_mut(&id) else {
                        continue;
                    };
                    if serve_client(client, interest) {
                        poller.modify(&client.sock, wanted(client), key)?;
                    } else {
                        poller.unregister(&client.sock)?;
                        clients.remove(&id);
                    }
                }
            }
        }
        if serve.is_some_and(|n| accepted >= n) && clients.is_empty() {
            println!("chat-server: served {accepted} clients, at most {most} at once");
            return Ok(());
        }
    }
}

/// Reads what there is and sends back what the socket takes; false once the client is gone.
fn serve_client(client: &mut Client, interest: Interest) -> bool {
    if (interest & Interest::READABLE) == Interest::READABLE {
        match client.sock.recv(64 * 1024) {
            Ok(data) if data.is_empty() => return false,
            Ok(data) => client.pending.extend_from_slice(&data),
            Err(e) if would_block(&e) => {}
            Err(_) => return false,
        }
    }
    while !client.pending.is_empty() {
        match client.sock.send(&client.pending) {
            Ok(n) => {
                client.pending.drain(..n);
            }
            Err(e) if would_block(&e) => break,
            Err(_) => return false,
        }
    }
    true
}

/// Readable always; writable too while output waits.
fn wanted(client: &Client) -> Interest {
    if client.pending.is_empty() {
        Interest::READABLE
    } else {
        Interest::READABLE | Interest::WRITABLE
    }
}
