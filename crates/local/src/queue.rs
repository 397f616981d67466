//! `DiskQueue`: an on-disk queue with Service Bus semantics, and `LocalBus`, the `Bus` port over a directory of
//! them (queue name -> subdirectory).
//!
//! What we rely on from Service Bus, reproduced here: duplicate detection by message id inside a window (a repeat
//! is accepted and dropped); scheduled messages invisible until their time; peek-lock receive (the message is
//! invisible until its lock expires, `delivery_count` counts receives from 1); complete, abandon (visible again at
//! once); dead-lettering with reason `MaxDeliveryCountExceeded` once a message has been delivered
//! `max_delivery_count` times; monotonically increasing sequence numbers.
//!
//! Several processes send and receive at once (the host, the handler, runner jobs), so every operation holds an
//! exclusive `flock` on `<dir>/.lock`, and every file is written to a temporary file and renamed (or hard-linked).
//! Layout: `messages/<sequence>.json` (a message as sent, written once), one empty marker per message in the
//! directory of its state (`ready/`, `scheduled/`, `locked/`; the marker's name holds its sequence number,
//! deliveries, due time or lock, see `state.rs`), `deadletter/<sequence>.json`, `dedupe/<bucket>/<digest>` (the
//! message ids seen, one window-long bucket of time per directory, see `dedupe.rs`), `sequence` (rewritten in
//! place), and `.wake`, the consumer's wake-up socket that a send rings (see `wake.rs`). A receive lists
//! the state directories and reads the one message it delivers; a state change is a rename; a send creates three
//! small files and looks up at most two. The methods block briefly on file I/O: from async code, call them in
//! `spawn_blocking` (as `LocalBus` does).
//!
//! Corruption fails closed, never silently: a message file that does not parse is moved to the dead-letter queue
//! with reason `CorruptMessage` (its bytes kept) when a receive or a peek reaches it, and the queue goes on (so
//! does a stray file among the markers); a message file is only ever created, never replaced, so a garbled or
//! stale `sequence` file cannot make a send overwrite a queued message (the sequence recovers from the highest
//! message file present, live or dead-lettered). A queue directory of the earlier layout (each message's state
//! inside its file, one `dedupe.json` rewritten on every send) is migrated when opened: each message gets the
//! marker of the state its file holds, and the ids of `dedupe.json` still inside the window move to the buckets; a
//! garbled `dedupe.json` is set aside as `dedupe.json.corrupt-<time>` and rebuilt from the message ids still in
//! the queue and its dead letters, with a warning in the log. That rebuild is conservative: a repeat of a message
//! still queued is dropped as before, while a repeat of one already completed inside the window may be delivered
//! again, which at-least-once delivery allows and the handlers' idempotence absorbs (dropping sends instead would
//! lose messages).

use crate::fsutil::{io_error, unique_id, write_in_place, write_new, FileLock};
use chrono::{DateTime, Duration, Utc};
use nightshift_core::ports::{Clock, PortError, SystemClock};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod bus;
mod dedupe;
mod recovery;
mod state;
mod wake;

pub use bus::LocalBus;
use dedupe::DEDUPE;
use state::{from_millis, millis, Marker, LOCKED, READY, SCHEDULED, STATES};
pub use wake::{WakeListener, WAKE_SOCKET};

/// The reason Service Bus gives a message dead-lettered for too many deliveries.
pub const MAX_DELIVERY_COUNT_EXCEEDED: &str = "MaxDeliveryCountExceeded";

/// The reason a message file that cannot be read as a message is dead-lettered with (ours; Service Bus has no
/// corrupt files).
pub const CORRUPT_MESSAGE: &str = "CorruptMessage";

/// A queue's settings (Service Bus defaults).
#[derive(Clone)]
pub struct QueueOptions {
    /// A message id seen within this window is accepted and dropped. Default 10 minutes.
    pub duplicate_window: Duration,
    /// Deliveries before a message is dead-lettered. Default 10.
    pub max_delivery_count: u32,
    /// The time source for locks, schedules and the duplicate window.
    pub clock: Arc<dyn Clock>,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            duplicate_window: Duration::minutes(10),
            max_delivery_count: 10,
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for QueueOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueOptions")
            .field("duplicate_window", &self.duplicate_window)
            .field("max_delivery_count", &self.max_delivery_count)
            .finish_non_exhaustive()
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub body: String,
    pub message_id: String,
    pub correlation_id: Option<String>,
    /// Invisible until then.
    pub scheduled_at: Option<DateTime<Utc>>,
}

impl NewMessage {
    pub fn new(body: impl Into<String>, message_id: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            message_id: message_id.into(),
            correlation_id: None,
            scheduled_at: None,
        }
    }
}

/// What became of a sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    Enqueued {
        sequence_number: u64,
    },
    /// Its message id was seen inside the duplicate window: accepted and dropped.
    Duplicate,
}

/// A message as stored: in the queue, or inside a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    pub sequence_number: u64,
    pub message_id: String,
    pub correlation_id: Option<String>,
    pub body: String,
    pub enqueued_at: DateTime<Utc>,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Receives so far.
    pub delivery_count: u32,
    pub lock_token: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// A message received under a peek-lock: complete or abandon it with its `lock_token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub body: String,
    pub message_id: String,
    pub correlation_id: Option<String>,
    /// 1 on the first receive.
    pub delivery_count: u32,
    pub enqueued_at: DateTime<Utc>,
    pub sequence_number: u64,
    pub lock_token: String,
    pub locked_until: DateTime<Utc>,
}

/// A message moved to the dead-letter sub-queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub message: QueuedMessage,
    pub reason: String,
    pub description: String,
    pub dead_lettered_at: DateTime<Utc>,
}

/// One queue in a directory. Cheap to clone; every method works on the files, so clones in other processes see
/// the same queue.
#[derive(Debug, Clone)]
pub struct DiskQueue {
    dir: PathBuf,
    options: QueueOptions,
}

fn io_err(what: &str, dir: &Path) -> impl FnOnce(io::Error) -> PortError {
    let context = format!("queue {}: {what}", dir.display());
    move |e| io_error(context, e)
}

impl DiskQueue {
    /// Opens (creating if needed) the queue in `dir`; a queue directory of the earlier layout (every message's
    /// state inside its file) is migrated first.
    pub fn open(dir: impl Into<PathBuf>, options: QueueOptions) -> Result<Self, PortError> {
        let q = Self {
            dir: dir.into(),
            options,
        };
        // `ready` is made last: once it exists, the queue is in this layout.
        if !q.dir.join(READY).is_dir() {
            for sub in ["messages", "deadletter", DEDUPE] {
                std::fs::create_dir_all(q.dir.join(sub)).map_err(io_err("creating", &q.dir))?;
            }
            let _guard = q.lock()?;
            q.migrate_layout()?;
        }
        Ok(q)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn options(&self) -> &QueueOptions {
        &self.options
    }

    fn lock(&self) -> Result<FileLock, PortError> {
        FileLock::exclusive(&self.dir.join(".lock")).map_err(io_err("locking", &self.dir))
    }

    fn message_path(&self, sub: &str, seq: u64) -> PathBuf {
        self.dir.join(sub).join(format!("{seq:020}.json"))
    }

    fn read_all(&self, sub: &str) -> Result<Vec<(PathBuf, Vec<u8>)>, PortError> {
        let mut out = Vec::new();
        let entries =
            std::fs::read_dir(self.dir.join(sub)).map_err(io_err("listing", &self.dir))?;
        for entry in entries {
            let entry = entry.map_err(io_err("listing", &self.dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            match std::fs::read(entry.path()) {
                Ok(bytes) => out.push((entry.path(), bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("reading", &self.dir)(e)),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// The message a marker stands for, as stored at send (its state comes from the marker). `None` when its file
    /// is gone (a settle that died between removing the message and its marker: the marker is removed now) or
    /// does not parse (dead-lettered with its reason: one bad file must not block the queue). Call with the lock
    /// held.
    fn load(&self, marker: &Marker) -> Result<Option<QueuedMessage>, PortError> {
        let path = self.message_path("messages", marker.seq());
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.remove_marker(marker)?;
                return Ok(None);
            }
            Err(e) => return Err(io_err("reading", &self.dir)(e)),
        };
        match serde_json::from_slice::<QueuedMessage>(&bytes) {
            Ok(mut m) => {
                m.delivery_count = marker.deliveries();
                (m.lock_token, m.locked_until) = match marker {
                    Marker::Locked {
                        until_ms, token, ..
                    } => (Some(token.clone()), Some(from_millis(*until_ms))),
                    _ => (None, None),
                };
                Ok(Some(m))
            }
            Err(e) => {
                self.dead_letter_corrupt(&path, &bytes, &e.to_string())?;
                self.remove_marker(marker)?;
                Ok(None)
            }
        }
    }

    /// Sends a message; a repeat of a message id inside the duplicate window is accepted and dropped. A message
    /// visible at once rings the queue's bell (see [`WakeListener`]) once the queue's lock is released.
    pub fn send(&self, message: NewMessage) -> Result<SendOutcome, PortError> {
        let now_visible = message
            .scheduled_at
            .is_none_or(|at| at <= self.options.clock.now());
        let outcome = self.send_locked(message)?;
        if now_visible && outcome != SendOutcome::Duplicate {
            wake::ring(&self.dir);
        }
        Ok(outcome)
    }

    fn send_locked(&self, message: NewMessage) -> Result<SendOutcome, PortError> {
        let _guard = self.lock()?;
        let now = self.options.clock.now();
        if self.seen_within_window(&message.message_id, now)? {
            return Ok(SendOutcome::Duplicate);
        }
        let seq_path = self.dir.join("sequence");
        let last = match std::fs::read_to_string(&seq_path) {
            Ok(s) => s.trim().parse::<u64>().ok(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Some(0),
            Err(e) => return Err(io_err("reading sequence", &self.dir)(e)),
        };
        let mut seq = match last {
            Some(last) => last + 1,
            None => {
                let highest = self.highest_present()?;
                tracing::warn!(queue = %self.dir.display(), "the sequence file was garbled: going on from {highest}, the highest message present");
                highest + 1
            }
        };
        let mut stored = QueuedMessage {
            sequence_number: seq,
            message_id: message.message_id.clone(),
            correlation_id: message.correlation_id,
            body: message.body,
            enqueued_at: now,
            scheduled_at: message.scheduled_at,
            delivery_count: 0,
            lock_token: None,
            locked_until: None,
        };
        // Only ever create: a sequence file behind the messages present (restored, edited) must not make this
        // send replace a queued message.
        loop {
            stored.sequence_number = seq;
            let bytes = serde_json::to_vec_pretty(&stored)
                .map_err(|e| PortError::Permanent(format!("serializing: {e}")))?;
            if write_new(&self.message_path("messages", seq), &bytes)
                .map_err(io_err("writing", &self.dir))?
            {
                break;
            }
            let highest = self.highest_present()?;
            tracing::warn!(queue = %self.dir.display(), "sequence {seq} is taken: going on from {highest}, the highest message present");
            seq = highest.max(seq) + 1;
        }
        // In place, not renamed: one less file created and freed per send (a garbled file is recovered above).
        write_in_place(&seq_path, seq.to_string().as_bytes())
            .map_err(io_err("sequence", &self.dir))?;
        // The message enters the queue with its marker: a send that dies before leaves a file never delivered,
        // and its sender (which saw no success) sends again.
        let marker = match message.scheduled_at {
            Some(at) if at > now => Marker::Scheduled {
                due_ms: millis(at),
                seq,
                deliveries: 0,
            },
            _ => Marker::Ready { seq, deliveries: 0 },
        };
        self.create_marker(&marker)?;
        self.remember(&message.message_id, now)?;
        Ok(SendOutcome::Enqueued {
            sequence_number: seq,
        })
    }

    /// Makes visible the scheduled messages that are due and the locked ones whose lock expired: their markers
    /// move to `ready`. Call with the lock held.
    fn promote(&self, now_ms: i64) -> Result<(), PortError> {
        for state in [SCHEDULED, LOCKED] {
            for marker in self.markers(state)? {
                let marker = match marker {
                    Ok(m) => m,
                    Err(path) => {
                        self.set_aside_marker(&path)?;
                        continue;
                    }
                };
                if !marker.visible_at(now_ms) {
                    // Sorted by time: the rest are later still.
                    break;
                }
                let ready = Marker::Ready {
                    seq: marker.seq(),
                    deliveries: marker.deliveries(),
                };
                self.move_marker(&marker, &ready)?;
            }
        }
        Ok(())
    }

    /// Receives the visible message with the lowest sequence number under a peek-lock of `lock_duration`. A
    /// message already delivered `max_delivery_count` times is dead-lettered instead. Reads the state
    /// directories' listings and the one message file it delivers.
    pub fn receive(
        &self,
        lock_duration: std::time::Duration,
    ) -> Result<Option<Received>, PortError> {
        let _guard = self.lock()?;
        match self.receive_locked(lock_duration)? {
            Some(m) => Ok(Some(m)),
            // Nothing visible: a message file without a marker would never be seen otherwise.
            None if self.adopt_orphans()? > 0 => self.receive_locked(lock_duration),
            None => Ok(None),
        }
    }

    fn receive_locked(
        &self,
        lock_duration: std::time::Duration,
    ) -> Result<Option<Received>, PortError> {
        let now = self.options.clock.now();
        self.promote(millis(now))?;
        let mut ready: Vec<Marker> = Vec::new();
        for marker in self.markers(READY)? {
            match marker {
                Ok(m) => ready.push(m),
                Err(path) => self.set_aside_marker(&path)?,
            }
        }
        ready.sort_by_key(Marker::seq);
        for marker in ready {
            let Some(m) = self.load(&marker)? else {
                continue;
            };
            if m.delivery_count >= self.options.max_delivery_count {
                self.dead_letter(&marker, m, now)?;
                continue;
            }
            let lock_token = unique_id();
            let locked_until =
                now + Duration::from_std(lock_duration).unwrap_or_else(|_| Duration::seconds(60));
            let locked = Marker::Locked {
                until_ms: millis(locked_until),
                seq: marker.seq(),
                deliveries: m.delivery_count + 1,
                token: lock_token.clone(),
            };
            self.move_marker(&marker, &locked)?;
            return Ok(Some(Received {
                body: m.body,
                message_id: m.message_id,
                correlation_id: m.correlation_id,
                delivery_count: locked.deliveries(),
                enqueued_at: m.enqueued_at,
                sequence_number: m.sequence_number,
                lock_token,
                locked_until,
            }));
        }
        Ok(None)
    }

    fn dead_letter(
        &self,
        marker: &Marker,
        mut m: QueuedMessage,
        now: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let description = format!(
            "Message could not be consumed after {} delivery attempts.",
            m.delivery_count
        );
        m.lock_token = None;
        m.locked_until = None;
        let dead = DeadLetter {
            reason: MAX_DELIVERY_COUNT_EXCEEDED.to_string(),
            description,
            dead_lettered_at: now,
            message: m,
        };
        self.write_dead_letter(&dead)?;
        self.remove_message(marker)?;
        tracing::warn!(
            queue = %self.dir.display(),
            message_id = %dead.message.message_id,
            "message dead-lettered: {}",
            dead.reason
        );
        Ok(())
    }

    /// Removes a message: its file, then its marker (a marker left alone by a crash is removed by the next
    /// receive that finds no file behind it).
    fn remove_message(&self, marker: &Marker) -> Result<(), PortError> {
        match std::fs::remove_file(self.message_path("messages", marker.seq())) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing a message", &self.dir)(e)),
        }
        self.remove_marker(marker)
    }

    /// Settles a received message: it is removed. `Conflict` when the lock was lost.
    pub fn complete(&self, lock_token: &str) -> Result<(), PortError> {
        let _guard = self.lock()?;
        let now = self.options.clock.now();
        let marker = self.locked_marker(lock_token, millis(now))?;
        self.remove_message(&marker)
    }

    /// Releases a received message: visible again at once, or dead-lettered if it has had all its deliveries.
    pub fn abandon(&self, lock_token: &str) -> Result<(), PortError> {
        let _guard = self.lock()?;
        let now = self.options.clock.now();
        let marker = self.locked_marker(lock_token, millis(now))?;
        if marker.deliveries() >= self.options.max_delivery_count {
            return match self.load(&marker)? {
                Some(m) => self.dead_letter(&marker, m, now),
                None => Ok(()),
            };
        }
        let ready = Marker::Ready {
            seq: marker.seq(),
            deliveries: marker.deliveries(),
        };
        self.move_marker(&marker, &ready)
    }

    /// Every message in the queue (scheduled and locked ones too), by sequence number.
    pub fn peek_all(&self) -> Result<Vec<QueuedMessage>, PortError> {
        let _guard = self.lock()?;
        let mut out = Vec::new();
        for state in STATES {
            for marker in self.markers(state)? {
                match marker {
                    Ok(marker) => out.extend(self.load(&marker)?),
                    Err(path) => self.set_aside_marker(&path)?,
                }
            }
        }
        out.sort_by_key(|m| m.sequence_number);
        Ok(out)
    }

    /// Messages in the queue, dead letters not counted: the markers, counted without reading a message.
    pub fn len(&self) -> Result<usize, PortError> {
        let mut n = 0;
        for state in STATES {
            n += std::fs::read_dir(self.dir.join(state))
                .map_err(io_err("listing", &self.dir))?
                .filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count();
        }
        Ok(n)
    }

    pub fn is_empty(&self) -> Result<bool, PortError> {
        Ok(self.len()? == 0)
    }

    /// Changes whenever a message is sent (the last sequence number), and usually when one becomes visible again
    /// (the `ready` directory's modification time, as fine as the file system keeps it): a cheap way for an idle
    /// consumer to tell that a receive may find something new. Scheduled messages and expiring locks become
    /// visible without changing it.
    pub fn change_stamp(&self) -> (Option<std::time::SystemTime>, u64) {
        let modified = std::fs::metadata(self.dir.join(READY))
            .and_then(|m| m.modified())
            .ok();
        let sequence = std::fs::read_to_string(self.dir.join("sequence"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        (modified, sequence)
    }

    /// The dead-letter sub-queue, by sequence number.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, PortError> {
        self.read_all("deadletter")?
            .into_iter()
            .map(|(path, bytes)| {
                serde_json::from_slice(&bytes).map_err(|e| {
                    PortError::Permanent(format!("{} is corrupt: {e}", path.display()))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
