//! A queue's doorbell: a consumer in another process learns at once that a message was sent, instead of at its
//! next look at the directory.
//!
//! The consumer (the local Functions host) binds a Unix datagram socket at `<queue dir>/.wake`; every send that
//! makes a message visible rings it with one byte, best effort. A ring is only a hint: a sender that finds no
//! socket (no host running, a path too long for a socket address, a socket left by a host that died) sends nothing
//! and the message waits for the consumer's periodic look, as before. Nothing is lost either way: the message is
//! on disk before the bell rings, and a ring that arrives while the consumer is busy makes it look once more.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// The socket's name inside a queue's directory (a dot name: listings of the queue skip it).
pub const WAKE_SOCKET: &str = ".wake";

/// Rings the bell of the queue in `dir`, if a consumer listens: never blocks, never fails.
pub(crate) fn ring(dir: &Path) {
    let path = dir.join(WAKE_SOCKET);
    if let Ok(socket) = UnixDatagram::unbound() {
        let _ = socket.set_nonblocking(true);
        // ENOENT (nobody listens), ECONNREFUSED (a stale socket), EAGAIN (the consumer has rings queued already):
        // all fine, the message is on disk.
        let _ = socket.send_to(&[1], &path);
    }
}

/// The consumer's side: the bound socket, removed when dropped.
pub struct WakeListener {
    socket: tokio::net::UnixDatagram,
    path: PathBuf,
}

impl WakeListener {
    /// Binds the bell of the queue in `dir`, replacing a socket a previous consumer left behind. Errors when the
    /// socket cannot be bound (for example a path longer than a socket address allows): the caller then relies on
    /// its periodic look alone.
    pub fn bind(dir: &Path) -> io::Result<Self> {
        let path = dir.join(WAKE_SOCKET);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let socket = tokio::net::UnixDatagram::bind(&path)?;
        Ok(Self { socket, path })
    }

    /// Waits for the next ring; the rings queued behind it are taken too (one look serves them all).
    pub async fn rung(&self) -> io::Result<()> {
        let mut buf = [0u8; 64];
        self.socket.recv(&mut buf).await?;
        while self.socket.try_recv(&mut buf).is_ok() {}
        Ok(())
    }
}

impl Drop for WakeListener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_ring_from_a_sender_wakes_the_listener_and_rings_queued_meanwhile_are_taken_together()
    {
        let dir = tempfile::tempdir().unwrap();
        let listener = WakeListener::bind(dir.path()).unwrap();
        ring(dir.path());
        ring(dir.path());
        tokio::time::timeout(Duration::from_secs(5), listener.rung())
            .await
            .expect("woken")
            .unwrap();
        // Both rings were taken by that one wake-up: nothing else is pending.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), listener.rung())
                .await
                .is_err(),
            "a second wake-up for rings already served"
        );
    }

    #[test]
    fn ringing_a_queue_nobody_listens_to_or_whose_listener_died_is_harmless() {
        let dir = tempfile::tempdir().unwrap();
        ring(dir.path());
        // A socket file left by a consumer that died: nobody reads it.
        let stale = UnixDatagram::bind(dir.path().join(WAKE_SOCKET)).unwrap();
        drop(stale);
        ring(dir.path());
    }

    #[tokio::test]
    async fn a_new_listener_replaces_the_socket_a_dead_one_left_and_removes_it_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        drop(UnixDatagram::bind(dir.path().join(WAKE_SOCKET)).unwrap());
        let listener = WakeListener::bind(dir.path()).unwrap();
        ring(dir.path());
        tokio::time::timeout(Duration::from_secs(5), listener.rung())
            .await
            .expect("woken")
            .unwrap();
        drop(listener);
        assert!(!dir.path().join(WAKE_SOCKET).exists());
    }
}
