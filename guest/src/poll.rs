//! Waiting on many sockets at once: [`Socket::subscribe`] gives a `wasi:io/poll` pollable,
//! [`Poller`] is Python's `selectors` shape over them, and [`select`] is `select.select`.
//!
//! A wasm guest has one thread: a server that serves many clients registers their sockets
//! with a [`Poller`] and asks it which are ready, then reads and writes only those (their
//! calls do not block).

use std::collections::HashMap;
use std::time::Duration;

use wasi::io::poll::Pollable;

use crate::bindings::sockbox::socket::socket::Interest;
use crate::{Error, Result, Socket, SocketIo};

impl Socket {
    /// A `wasi:io/poll` pollable, ready when the socket is readable (data, a connection to
    /// accept, the end of the stream, an error) or writable, as `interest` asks, or when the
    /// host interrupts the instance. Use it with `wasi::io::poll::poll` beside wasi timers and
    /// streams, or through [`Poller`].
    pub fn subscribe(&self, interest: Interest) -> Pollable {
        self.raw().subscribe(interest)
    }
}

impl SocketIo {
    /// A pollable for the socket under this socket-io (see [`Socket::subscribe`]).
    pub fn subscribe(&self, interest: Interest) -> Pollable {
        self.raw.subscribe(interest)
    }
}

/// One registration: the interest, the user's key, and a pollable per interest bit.
struct Entry<K> {
    interest: Interest,
    key: K,
    readable: Option<Pollable>,
    writable: Option<Pollable>,
}

/// Python's `selectors.DefaultSelector`: register sockets with an interest
/// (`Interest::READABLE` is `EVENT_READ`, `Interest::WRITABLE` is `EVENT_WRITE`) and a key of
/// your own, then [`select`](Self::select) the ready ones.
///
/// A registration holds the OS socket open (as a socket-io does) until it is unregistered or
/// the poller drops, so dropping a registered socket is safe.
pub struct Poller<K> {
    entries: HashMap<i32, Entry<K>>,
}

impl<K> std::fmt::Debug for Poller<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("registered", &self.entries.len())
            .finish()
    }
}

impl<K> Default for Poller<K> {
    fn default() -> Self {
        Poller {
            entries: HashMap::new(),
        }
    }
}

impl<K> Poller<K> {
    /// An empty poller.
    pub fn new() -> Self {
        Self::default()
    }

    /// `register(fileobj, events, data)`.
    ///
    /// # Errors
    /// A `ValueError` for an empty interest, a `KeyError`-like `ValueError` when the socket is
    /// already registered.
    pub fn register(&mut self, sock: &Socket, interest: Interest, key: K) -> Result<()> {
        let fd = sock.fileno();
        if self.entries.contains_key(&fd) {
            return Err(Error::value(format!("{fd} is already registered")));
        }
        let entry = Self::entry(sock, interest, key)?;
        self.entries.insert(fd, entry);
        Ok(())
    }

    /// `modify(fileobj, events, data)`: a new interest and key for a registered socket.
    ///
    /// # Errors
    /// As [`register`](Self::register); a `ValueError` when the socket is not registered.
    pub fn modify(&mut self, sock: &Socket, interest: Interest, key: K) -> Result<()> {
        let fd = sock.fileno();
        let Some(old) = self.entries.get_mut(&fd) else {
            return Err(Error::value(format!("{fd} is not registered")));
        };
        if old.interest == interest {
            old.key = key;
            return Ok(());
        }
        *old = Self::entry(sock, interest, key)?;
        Ok(())
    }

    /// `unregister(fileobj)`: forgets the socket and gives back its key.
    ///
    /// # Errors
    /// A `ValueError` when the socket is not registered.
    pub fn unregister(&mut self, sock: &Socket) -> Result<K> {
        let fd = sock.fileno();
        self.entries
            .remove(&fd)
            .map(|e| e.key)
            .ok_or_else(|| Error::value(format!("{fd} is not registered")))
    }

    /// The key of a registered socket (`get_key`).
    pub fn get_key(&self, sock: &Socket) -> Option<&K> {
        self.entries.get(&sock.fileno()).map(|e| &e.key)
    }

    /// How many sockets are registered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `select(timeout)`: waits until a registered socket is ready as registered, or the
    /// timeout passes (`None`: no limit; zero: just look), and returns the ready ones' keys
    /// with what they are ready for. An empty list means the timeout passed.
    ///
    /// # Errors
    /// A `ValueError` when nothing is registered and there is no timeout (it would wait
    /// forever).
    pub fn select(&self, timeout: Option<Duration>) -> Result<Vec<(&K, Interest)>> {
        let mut pollables: Vec<&Pollable> = Vec::new();
        let mut owners: Vec<(&Entry<K>, Interest)> = Vec::new();
        for entry in self.entries.values() {
            for (p, bit) in [
                (&entry.readable, Interest::READABLE),
                (&entry.writable, Interest::WRITABLE),
            ] {
                if let Some(p) = p {
                    pollables.push(p);
                    owners.push((entry, bit));
                }
            }
        }
        let ready = wait(&pollables, timeout)?;
        let mut out: Vec<(&K, Interest)> = Vec::new();
        let mut index_of: HashMap<*const Entry<K>, usize> = HashMap::new();
        for i in ready {
            let (entry, bit) = owners[i];
            match index_of.get(&(entry as *const Entry<K>)) {
                Some(&at) => out[at].1 = out[at].1 | bit,
                None => {
                    index_of.insert(entry as *const Entry<K>, out.len());
                    out.push((&entry.key, bit));
                }
            }
        }
        Ok(out)
    }

    fn entry(sock: &Socket, interest: Interest, key: K) -> Result<Entry<K>> {
        let wants = |bit: Interest| (interest & bit) == bit;
        if !wants(Interest::READABLE) && !wants(Interest::WRITABLE) {
            return Err(Error::value(format!("Invalid events: {interest:?}")));
        }
        Ok(Entry {
            interest,
            key,
            readable: wants(Interest::READABLE).then(|| sock.subscribe(Interest::READABLE)),
            writable: wants(Interest::WRITABLE).then(|| sock.subscribe(Interest::WRITABLE)),
        })
    }
}

/// `select.select(rlist, wlist, [], timeout)`: the sockets of `read` that are readable and of
/// `write` that are writable, waiting until one is or the timeout passes. (`xlist`,
/// exceptional conditions, has no counterpart: urgent data shows as readable.)
///
/// # Errors
/// A `ValueError` when both lists are empty and there is no timeout.
pub fn select<'a>(
    read: &[&'a Socket],
    write: &[&'a Socket],
    timeout: Option<Duration>,
) -> Result<(Vec<&'a Socket>, Vec<&'a Socket>)> {
    let subs: Vec<Pollable> = read
        .iter()
        .map(|s| s.subscribe(Interest::READABLE))
        .chain(write.iter().map(|s| s.subscribe(Interest::WRITABLE)))
        .collect();
    let refs: Vec<&Pollable> = subs.iter().collect();
    let mut readable = Vec::new();
    let mut writable = Vec::new();
    for i in wait(&refs, timeout)? {
        match read.get(i) {
            Some(s) => readable.push(*s),
            None => writable.push(write[i - read.len()]),
        }
    }
    Ok((readable, writable))
}

/// `poll` over `pollables` and, with a timeout, a monotonic-clock pollable: the indices of
/// the ready ones (never the clock's).
fn wait(pollables: &[&Pollable], timeout: Option<Duration>) -> Result<Vec<usize>> {
    let clock = match timeout {
        Some(t) => Some(wasi::clocks::monotonic_clock::subscribe_duration(
            u64::try_from(t.as_nanos()).unwrap_or(u64::MAX),
        )),
        None if pollables.is_empty() => {
            return Err(Error::value(
                "nothing to wait for and no timeout: this would wait forever",
            ));
        }
        None => None,
    };
    let mut list: Vec<&Pollable> = pollables.to_vec();
    if let Some(c) = &clock {
        list.push(c);
    }
    let ready = wasi::io::poll::poll(&list);
    Ok(ready
        .into_iter()
        .map(|i| i as usize)
        .filter(|i| *i < pollables.len())
        .collect())
}
