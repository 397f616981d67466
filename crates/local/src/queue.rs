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
//! exclusive `flock` on `<dir>/.lock`, and every file is written to a temporary file and renamed. Layout:
//! `messages/<sequence>.json`, `deadletter/<sequence>.json`, `dedupe.json` (message id -> first seen), `sequence`.
//! The methods block briefly on file I/O: from async code, call them in `spawn_blocking` (as `LocalBus` does).
//!
//! Corruption fails closed, never silently: a message file that does not parse is moved to the dead-letter queue
//! with reason `CorruptMessage` (its bytes kept) and the queue goes on; a message file is only ever created, never
//! replaced, so a garbled or stale `sequence` file cannot make a send overwrite a queued message (the sequence
//! recovers from the highest message file present, live or dead-lettered); and a garbled `dedupe.json` is set aside
//! as `dedupe.json.corrupt-<time>` and rebuilt from the message ids still in the queue and its dead letters, with
//! a warning in the log. That rebuild is conservative: a repeat of a message still queued is dropped as before,
//! while a repeat of one already completed inside the window may be delivered again, which at-least-once delivery
//! allows and the handlers' idempotence absorbs (dropping sends instead would lose messages).

use crate::fsutil::{
    blocking, check_segment, io_error, unique_id, write_atomic, write_new, FileLock,
};
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use nightshift_core::ports::{Bus, Clock, OutboundMessage, PortError, SystemClock};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod recovery;

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

impl QueuedMessage {
    fn visible_at(&self, now: DateTime<Utc>) -> bool {
        !matches!(self.scheduled_at, Some(t) if t > now)
            && !matches!(self.locked_until, Some(t) if t > now)
    }
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
    /// Opens (creating if needed) the queue in `dir`.
    pub fn open(dir: impl Into<PathBuf>, options: QueueOptions) -> Result<Self, PortError> {
        let q = Self {
            dir: dir.into(),
            options,
        };
        for sub in ["messages", "deadletter"] {
            std::fs::create_dir_all(q.dir.join(sub)).map_err(io_err("creating", &q.dir))?;
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

    /// The queue's messages by sequence number. A file that is not a message is moved to the dead letters with
    /// its reason: one bad file must not block the queue. Call with the lock held.
    fn messages(&self) -> Result<Vec<(PathBuf, QueuedMessage)>, PortError> {
        let mut out = Vec::new();
        for (path, bytes) in self.read_all("messages")? {
            match serde_json::from_slice::<QueuedMessage>(&bytes) {
                Ok(m) => out.push((path, m)),
                Err(e) => self.dead_letter_corrupt(&path, &bytes, &e.to_string())?,
            }
        }
        Ok(out)
    }

    fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> Result<(), PortError> {
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| PortError::Permanent(format!("serializing: {e}")))?;
        write_atomic(path, &bytes).map_err(io_err("writing", &self.dir))
    }

    /// Sends a message; a repeat of a message id inside the duplicate window is accepted and dropped.
    pub fn send(&self, message: NewMessage) -> Result<SendOutcome, PortError> {
        let _guard = self.lock()?;
        let now = self.options.clock.now();
        let dedupe_path = self.dir.join("dedupe.json");
        let mut seen = self.seen_ids(now)?;
        let window_start = now - self.options.duplicate_window;
        seen.retain(|_, at| *at > window_start);
        if seen.contains_key(&message.message_id) {
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
        write_atomic(&seq_path, seq.to_string().as_bytes())
            .map_err(io_err("sequence", &self.dir))?;
        seen.insert(message.message_id, now);
        self.write_json(&dedupe_path, &seen)?;
        Ok(SendOutcome::Enqueued {
            sequence_number: seq,
        })
    }

    /// Receives the visible message with the lowest sequence number under a peek-lock of `lock_duration`. A
    /// message already delivered `max_delivery_count` times is dead-lettered instead.
    pub fn receive(
        &self,
        lock_duration: std::time::Duration,
    ) -> Result<Option<Received>, PortError> {
        let _guard = self.lock()?;
        let now = self.options.clock.now();
        for (path, mut m) in self.messages()? {
            if !m.visible_at(now) {
                continue;
            }
            if m.delivery_count >= self.options.max_delivery_count {
                self.dead_letter(&path, m, now)?;
                continue;
            }
            let lock_token = unique_id();
            let locked_until =
                now + Duration::from_std(lock_duration).unwrap_or_else(|_| Duration::seconds(60));
            m.delivery_count += 1;
            m.lock_token = Some(lock_token.clone());
            m.locked_until = Some(locked_until);
            self.write_json(&path, &m)?;
            return Ok(Some(Received {
                body: m.body,
                message_id: m.message_id,
                correlation_id: m.correlation_id,
                delivery_count: m.delivery_count,
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
        path: &Path,
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
        std::fs::remove_file(path).map_err(io_err("dead-lettering", &self.dir))?;
        tracing::warn!(
            queue = %self.dir.display(),
            message_id = %dead.message.message_id,
            "message dead-lettered: {}",
            dead.reason
        );
        Ok(())
    }

    /// The locked message with this token, if its lock still holds.
    fn locked(&self, lock_token: &str) -> Result<(PathBuf, QueuedMessage), PortError> {
        let now = self.options.clock.now();
        self.messages()?
            .into_iter()
            .find(|(_, m)| {
                m.lock_token.as_deref() == Some(lock_token)
                    && m.locked_until.is_some_and(|t| t > now)
            })
            .ok_or_else(|| {
                PortError::Conflict(format!(
                    "lock {lock_token} lost: the lock expired or the message was settled"
                ))
            })
    }

    /// Settles a received message: it is removed. `Conflict` when the lock was lost.
    pub fn complete(&self, lock_token: &str) -> Result<(), PortError> {
        let _guard = self.lock()?;
        let (path, _) = self.locked(lock_token)?;
        std::fs::remove_file(&path).map_err(io_err("completing", &self.dir))
    }

    /// Releases a received message: visible again at once, or dead-lettered if it has had all its deliveries.
    pub fn abandon(&self, lock_token: &str) -> Result<(), PortError> {
        let _guard = self.lock()?;
        let (path, mut m) = self.locked(lock_token)?;
        if m.delivery_count >= self.options.max_delivery_count {
            return self.dead_letter(&path, m, self.options.clock.now());
        }
        m.lock_token = None;
        m.locked_until = None;
        self.write_json(&path, &m)
    }

    /// Every message in the queue (scheduled and locked ones too), by sequence number.
    pub fn peek_all(&self) -> Result<Vec<QueuedMessage>, PortError> {
        let _guard = self.lock()?;
        Ok(self.messages()?.into_iter().map(|(_, m)| m).collect())
    }

    /// Messages in the queue, dead letters not counted.
    pub fn len(&self) -> Result<usize, PortError> {
        Ok(self.read_all("messages")?.len())
    }

    pub fn is_empty(&self) -> Result<bool, PortError> {
        Ok(self.len()? == 0)
    }

    /// Changes whenever a message is sent (the last sequence number), and usually when one is changed or removed
    /// (the message directory's modification time, as fine as the file system keeps it): a cheap way for an idle
    /// consumer to tell that a receive may find something new. Scheduled messages and expiring locks become
    /// visible without changing it.
    pub fn change_stamp(&self) -> (Option<std::time::SystemTime>, u64) {
        let modified = std::fs::metadata(self.dir.join("messages"))
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

/// The `Bus` port over a directory of `DiskQueue`s: queue `steps` is `<dir>/steps/`.
#[derive(Debug, Clone)]
pub struct LocalBus {
    dir: PathBuf,
    options: QueueOptions,
}

impl LocalBus {
    pub fn new(dir: impl Into<PathBuf>, options: QueueOptions) -> Self {
        Self {
            dir: dir.into(),
            options,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The queue of that name (created if needed).
    pub fn queue(&self, name: &str) -> Result<DiskQueue, PortError> {
        check_segment("queue name", name)?;
        DiskQueue::open(self.dir.join(name), self.options.clone())
    }
}

#[async_trait]
impl Bus for LocalBus {
    #[tracing::instrument(skip_all, fields(queue = %message.queue, message_id = %message.message_id))]
    async fn send(&self, message: OutboundMessage) -> Result<(), PortError> {
        let bus = self.clone();
        blocking(move || {
            let queue = bus.queue(&message.queue)?;
            let outcome = queue.send(NewMessage {
                body: message.body,
                message_id: message.message_id,
                correlation_id: message.correlation_id,
                scheduled_at: message.scheduled_at,
            })?;
            if outcome == SendOutcome::Duplicate {
                tracing::debug!("duplicate message dropped");
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::time::Duration as StdDuration;

    /// A clock the test moves by hand.
    pub(crate) struct ManualClock(Mutex<DateTime<Utc>>);

    impl ManualClock {
        pub(crate) fn new() -> Arc<Self> {
            Arc::new(Self(Mutex::new("2030-01-01T00:00:00Z".parse().unwrap())))
        }
        pub(crate) fn advance(&self, d: Duration) {
            *self.0.lock().unwrap() += d;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> DateTime<Utc> {
            *self.0.lock().unwrap()
        }
    }

    const LOCK: StdDuration = StdDuration::from_secs(30);

    fn queue() -> (tempfile::TempDir, DiskQueue, Arc<ManualClock>) {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new();
        let options = QueueOptions {
            max_delivery_count: 3,
            clock: clock.clone(),
            ..QueueOptions::default()
        };
        let q = DiskQueue::open(dir.path().join("q"), options).unwrap();
        (dir, q, clock)
    }

    #[test]
    fn messages_are_received_in_order_with_increasing_sequence_numbers() {
        let (_d, q, _c) = queue();
        q.send(NewMessage::new("a", "1")).unwrap();
        q.send(NewMessage::new("b", "2")).unwrap();
        let first = q.receive(LOCK).unwrap().unwrap();
        let second = q.receive(LOCK).unwrap().unwrap();
        assert_eq!((first.body.as_str(), second.body.as_str()), ("a", "b"));
        assert!(first.sequence_number < second.sequence_number);
        assert_eq!(first.delivery_count, 1);
        assert!(q.receive(LOCK).unwrap().is_none());
    }

    #[test]
    fn a_repeated_message_id_inside_the_window_is_accepted_and_dropped() {
        let (_d, q, clock) = queue();
        assert!(matches!(
            q.send(NewMessage::new("a", "id")).unwrap(),
            SendOutcome::Enqueued { .. }
        ));
        assert_eq!(
            q.send(NewMessage::new("a", "id")).unwrap(),
            SendOutcome::Duplicate
        );
        assert_eq!(q.len().unwrap(), 1);
        clock.advance(Duration::minutes(11));
        assert!(matches!(
            q.send(NewMessage::new("a", "id")).unwrap(),
            SendOutcome::Enqueued { .. }
        ));
    }

    #[test]
    fn a_completed_message_is_gone_and_still_deduplicated() {
        let (_d, q, _c) = queue();
        q.send(NewMessage::new("a", "id")).unwrap();
        let m = q.receive(LOCK).unwrap().unwrap();
        q.complete(&m.lock_token).unwrap();
        assert!(q.is_empty().unwrap());
        assert_eq!(
            q.send(NewMessage::new("a", "id")).unwrap(),
            SendOutcome::Duplicate
        );
        assert!(matches!(
            q.complete(&m.lock_token),
            Err(PortError::Conflict(_))
        ));
    }

    #[test]
    fn a_scheduled_message_is_invisible_until_its_time() {
        let (_d, q, clock) = queue();
        let mut m = NewMessage::new("later", "1");
        m.scheduled_at = Some(clock.now() + Duration::seconds(30));
        q.send(m).unwrap();
        assert!(q.receive(LOCK).unwrap().is_none());
        clock.advance(Duration::seconds(30));
        assert_eq!(q.receive(LOCK).unwrap().unwrap().body, "later");
    }

    #[test]
    fn a_locked_message_reappears_when_its_lock_expires_with_a_higher_delivery_count() {
        let (_d, q, clock) = queue();
        q.send(NewMessage::new("a", "1")).unwrap();
        let first = q.receive(LOCK).unwrap().unwrap();
        assert!(q.receive(LOCK).unwrap().is_none());
        clock.advance(Duration::seconds(31));
        let again = q.receive(LOCK).unwrap().unwrap();
        assert_eq!(again.delivery_count, 2);
        assert_ne!(again.lock_token, first.lock_token);
        assert!(matches!(
            q.complete(&first.lock_token),
            Err(PortError::Conflict(_))
        ));
        q.complete(&again.lock_token).unwrap();
    }

    #[test]
    fn an_abandoned_message_is_visible_again_at_once() {
        let (_d, q, _c) = queue();
        q.send(NewMessage::new("a", "1")).unwrap();
        let m = q.receive(LOCK).unwrap().unwrap();
        q.abandon(&m.lock_token).unwrap();
        assert_eq!(q.receive(LOCK).unwrap().unwrap().delivery_count, 2);
    }

    #[test]
    fn a_message_delivered_the_maximum_number_of_times_is_dead_lettered() {
        let (_d, q, clock) = queue();
        q.send(NewMessage::new("poison", "1")).unwrap();
        for n in 1..=3 {
            let m = q.receive(LOCK).unwrap().unwrap();
            assert_eq!(m.delivery_count, n);
            if n < 3 {
                q.abandon(&m.lock_token).unwrap();
            }
        }
        // The third lock expires: the next receive dead-letters instead of delivering a fourth time.
        clock.advance(Duration::seconds(31));
        assert!(q.receive(LOCK).unwrap().is_none());
        let dead = q.dead_letters().unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].reason, MAX_DELIVERY_COUNT_EXCEEDED);
        assert_eq!(dead[0].message.body, "poison");
        assert!(q.is_empty().unwrap());
    }

    #[test]
    fn abandoning_the_last_allowed_delivery_dead_letters_at_once() {
        let (_d, q, _c) = queue();
        q.send(NewMessage::new("poison", "1")).unwrap();
        for _ in 0..3 {
            let m = q.receive(LOCK).unwrap().unwrap();
            q.abandon(&m.lock_token).unwrap();
        }
        assert_eq!(q.dead_letters().unwrap().len(), 1);
        assert!(q.peek_all().unwrap().is_empty());
    }

    #[test]
    fn concurrent_senders_get_distinct_sequence_numbers() {
        let (_d, q, _c) = queue();
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..20 {
                        q.send(NewMessage::new("x", format!("{t}-{i}"))).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let seqs: Vec<u64> = q
            .peek_all()
            .unwrap()
            .iter()
            .map(|m| m.sequence_number)
            .collect();
        assert_eq!(seqs, (1..=80).collect::<Vec<_>>());
    }

    #[test]
    fn a_corrupt_message_file_is_dead_lettered_with_its_reason_and_the_queue_goes_on() {
        let (_d, q, _c) = queue();
        q.send(NewMessage::new("a", "1")).unwrap();
        q.send(NewMessage::new("b", "2")).unwrap();
        let first = q.message_path("messages", 1);
        std::fs::write(&first, b"{\"sequence_number\": 1, \"body\": trunc").unwrap();

        let got = q
            .receive(LOCK)
            .unwrap()
            .expect("the next message is delivered");

        assert_eq!(got.body, "b");
        let dead = q.dead_letters().unwrap();
        assert_eq!(dead.len(), 1, "{dead:?}");
        assert_eq!(dead[0].reason, CORRUPT_MESSAGE);
        assert!(
            dead[0].description.contains("00000000000000000001.json"),
            "{}",
            dead[0].description
        );
        assert!(
            dead[0].message.body.contains("trunc"),
            "the bytes are kept for a look"
        );
        assert!(!first.exists());
        assert_eq!(
            q.peek_all().unwrap().len(),
            1,
            "peeking skips nothing that is valid"
        );
    }

    #[test]
    fn a_garbled_sequence_file_recovers_from_the_highest_message_present_and_overwrites_nothing() {
        let (_d, q, _c) = queue();
        for i in 1..=3 {
            q.send(NewMessage::new(format!("m{i}"), i.to_string()))
                .unwrap();
        }
        std::fs::write(q.dir().join("sequence"), b"\x00garbage").unwrap();

        let sent = q.send(NewMessage::new("m4", "4")).unwrap();

        assert_eq!(sent, SendOutcome::Enqueued { sequence_number: 4 });
        let bodies: Vec<String> = q.peek_all().unwrap().into_iter().map(|m| m.body).collect();
        assert_eq!(bodies, ["m1", "m2", "m3", "m4"]);
    }

    #[test]
    fn a_sequence_file_behind_the_messages_present_never_makes_a_send_overwrite_one() {
        let (_d, q, _c) = queue();
        for i in 1..=3 {
            q.send(NewMessage::new(format!("m{i}"), i.to_string()))
                .unwrap();
        }
        // Restored from an older copy, say.
        std::fs::write(q.dir().join("sequence"), b"1").unwrap();

        let sent = q.send(NewMessage::new("m4", "4")).unwrap();

        assert_eq!(sent, SendOutcome::Enqueued { sequence_number: 4 });
        let bodies: Vec<String> = q.peek_all().unwrap().into_iter().map(|m| m.body).collect();
        assert_eq!(bodies, ["m1", "m2", "m3", "m4"]);
    }

    #[test]
    fn a_garbled_dedupe_file_is_set_aside_and_rebuilt_from_the_messages_present() {
        let (_d, q, _c) = queue();
        q.send(NewMessage::new("a", "queued-1")).unwrap();
        std::fs::write(q.dir().join("dedupe.json"), b"{not json").unwrap();

        let again = q.send(NewMessage::new("a", "queued-1")).unwrap();

        assert_eq!(
            again,
            SendOutcome::Duplicate,
            "a repeat of a queued message is still dropped"
        );
        assert_eq!(q.len().unwrap(), 1);
        let kept: Vec<String> = std::fs::read_dir(q.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("dedupe.json.corrupt-"))
            .collect();
        assert_eq!(kept.len(), 1, "the garbled file is kept for a look");
        let rebuilt: BTreeMap<String, DateTime<Utc>> =
            serde_json::from_slice(&std::fs::read(q.dir().join("dedupe.json")).unwrap()).unwrap();
        assert!(rebuilt.contains_key("queued-1"));
    }

    #[tokio::test]
    async fn the_local_bus_sends_to_the_named_queue() {
        let dir = tempfile::tempdir().unwrap();
        let bus = LocalBus::new(dir.path(), QueueOptions::default());
        bus.send(OutboundMessage {
            queue: "steps".into(),
            body: "{}".into(),
            message_id: "m1".into(),
            correlation_id: Some("run-1".into()),
            scheduled_at: None,
        })
        .await
        .unwrap();
        let m = bus.queue("steps").unwrap().receive(LOCK).unwrap().unwrap();
        assert_eq!(m.correlation_id.as_deref(), Some("run-1"));
        assert!(bus.queue("../x").is_err());
    }
}
