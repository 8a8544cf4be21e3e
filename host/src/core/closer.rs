//! Closes that could block, off the threads that serve guests.
//!
//! close(2) of a socket blocks when SO_LINGER is on and unsent data remains, for up to the
//! linger time. A guest cannot set a lingering SO_LINGER, but a process that shares the socket
//! can: one that passed it in, or received it, may set the option (it belongs to the socket,
//! not to a descriptor) and close its own copy, so that the host's close is the last one. So
//! descriptors others may hold are closed on one background thread; descriptors only this
//! instance ever held close where they drop.

use std::os::fd::OwnedFd;
use std::sync::OnceLock;
use std::sync::mpsc::{self, Sender};

/// Closes `fd` on the closer thread (or here, if that thread cannot be started).
pub(crate) fn close_later(fd: OwnedFd) {
    static CLOSER: OnceLock<Option<Sender<OwnedFd>>> = OnceLock::new();
    let sender = CLOSER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<OwnedFd>();
        std::thread::Builder::new()
            .name("sockbox-closer".into())
            .spawn(move || {
                for fd in rx {
                    drop(fd);
                }
            })
            .ok()
            .map(|_| tx)
    });
    match sender {
        // A send fails only if the thread is gone: then the fd comes back and closes here.
        Some(tx) => {
            if let Err(mpsc::SendError(fd)) = tx.send(fd) {
                drop(fd);
            }
        }
        None => drop(fd),
    }
}
