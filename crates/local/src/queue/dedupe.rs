//! Duplicate detection in a bounded structure, like Service Bus' duplicate detection window: a message id seen
//! within the window is a duplicate. Each id seen is one small file, `dedupe/<bucket>/<digest of the id>`, where a
//! bucket is one window-long slice of time (named by its start in milliseconds):
//!
//! - a send looks up at most two files (its id in the current bucket and in the one before) and creates one: O(1),
//!   whatever the number of ids remembered;
//! - an id in the current bucket was seen less than one window ago, so it is a duplicate without a read; one in
//!   the bucket before is a duplicate if the time it holds is inside the window;
//! - when a send opens a new bucket, buckets older than the one before are removed whole: at most two windows of
//!   ids are ever kept.
//!
//! Entries are created, never replaced (a hard link from a temporary file), so a crash leaves none half-written;
//! an entry that still cannot be read counts as not seen (a repeat may be delivered again, which at-least-once
//! delivery allows; dropping a send instead would lose a message).
//!
//! A queue directory written before this layout has a `dedupe.json` (message id -> first seen): the first send
//! imports the ids still inside the window and removes it; a garbled one is set aside as
//! `dedupe.json.corrupt-<time>` and rebuilt from the message ids still in the queue and its dead letters.

use super::{io_err, DeadLetter, DiskQueue, QueuedMessage};
use crate::fsutil::{sha256_hex, write_new};
use chrono::{DateTime, Utc};
use nightshift_core::ports::PortError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

pub(super) const DEDUPE: &str = "dedupe";
const LEGACY: &str = "dedupe.json";

#[derive(Serialize, Deserialize)]
struct Seen {
    message_id: String,
    first_seen: DateTime<Utc>,
}

impl DiskQueue {
    fn window_ms(&self) -> i64 {
        self.options.duplicate_window.num_milliseconds().max(1)
    }

    fn bucket_of(&self, at: DateTime<Utc>) -> i64 {
        let w = self.window_ms();
        at.timestamp_millis().div_euclid(w) * w
    }

    fn entry_path(&self, bucket: i64, message_id: &str) -> PathBuf {
        let digest = sha256_hex(message_id.as_bytes());
        self.dir
            .join(DEDUPE)
            .join(format!("{bucket:020}"))
            .join(&digest[..40])
    }

    /// Whether the id was seen inside the window ending `now`.
    pub(super) fn seen_within_window(
        &self,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, PortError> {
        self.import_legacy_dedupe(now)?;
        let current = self.bucket_of(now);
        if self.entry_path(current, message_id).exists() {
            return Ok(true);
        }
        let before = self.entry_path(current - self.window_ms(), message_id);
        let bytes = match std::fs::read(&before) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("reading a duplicate-detection entry", &self.dir)(e)),
        };
        match serde_json::from_slice::<Seen>(&bytes) {
            Ok(seen) => Ok(seen.message_id == message_id
                && seen.first_seen > now - self.options.duplicate_window),
            Err(e) => {
                tracing::warn!(queue = %self.dir.display(), entry = %before.display(), "an unreadable duplicate-detection entry counts as not seen: {e}");
                Ok(false)
            }
        }
    }

    /// Remembers an id as first seen at `at`, in the bucket of `at`; opening a new bucket removes those older
    /// than the one before it.
    pub(super) fn remember(&self, message_id: &str, at: DateTime<Utc>) -> Result<(), PortError> {
        let bucket = self.bucket_of(at);
        let dir = self.dir.join(DEDUPE).join(format!("{bucket:020}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => self.prune_dedupe(bucket)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("opening a duplicate-detection bucket", &self.dir)(e)),
        }
        let bytes = serde_json::to_vec(&Seen {
            message_id: message_id.to_string(),
            first_seen: at,
        })
        .map_err(|e| PortError::Permanent(format!("serializing: {e}")))?;
        // Already there: seen before inside this bucket, which keeps its first sighting.
        write_new(&self.entry_path(bucket, message_id), &bytes)
            .map_err(io_err("remembering a message id", &self.dir))?;
        Ok(())
    }

    /// Removes the buckets older than the one before `current`.
    fn prune_dedupe(&self, current: i64) -> Result<(), PortError> {
        let keep_from = current - self.window_ms();
        let entries =
            std::fs::read_dir(self.dir.join(DEDUPE)).map_err(io_err("listing", &self.dir))?;
        for entry in entries {
            let entry = entry.map_err(io_err("listing", &self.dir))?;
            let start = entry.file_name().to_string_lossy().parse::<i64>().ok();
            if start.is_some_and(|s| s < keep_from) {
                std::fs::remove_dir_all(entry.path()).map_err(io_err(
                    "removing an old duplicate-detection bucket",
                    &self.dir,
                ))?;
            }
        }
        Ok(())
    }

    /// How many message ids are kept for duplicate detection (at most two windows of them).
    pub fn remembered_ids(&self) -> Result<usize, PortError> {
        let mut n = 0;
        let entries =
            std::fs::read_dir(self.dir.join(DEDUPE)).map_err(io_err("listing", &self.dir))?;
        for bucket in entries {
            let bucket = bucket.map_err(io_err("listing", &self.dir))?;
            n += std::fs::read_dir(bucket.path())
                .map_err(io_err("listing", &self.dir))?
                .filter_map(Result::ok)
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count();
        }
        Ok(n)
    }

    /// Moves a `dedupe.json` of the earlier layout into the buckets (see the module's doc). Nothing to do, and
    /// one failed `stat`, once it is gone.
    fn import_legacy_dedupe(&self, now: DateTime<Utc>) -> Result<(), PortError> {
        let path = self.dir.join(LEGACY);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("reading dedupe.json", &self.dir)(e)),
        };
        let seen: BTreeMap<String, DateTime<Utc>> = match serde_json::from_slice(&bytes) {
            Ok(seen) => seen,
            Err(e) => {
                let aside = self.dir.join(format!(
                    "{LEGACY}.corrupt-{}",
                    now.format("%Y%m%dT%H%M%S%.fZ")
                ));
                std::fs::rename(&path, &aside)
                    .map_err(io_err("setting dedupe.json aside", &self.dir))?;
                let seen = self.ids_present()?;
                tracing::warn!(
                    queue = %self.dir.display(),
                    kept = %aside.display(),
                    "dedupe.json was garbled ({e}): rebuilt from the {} message ids present; a repeat of a \
                     message completed inside the duplicate window may be delivered again",
                    seen.len()
                );
                seen
            }
        };
        let window_start = now - self.options.duplicate_window;
        for (id, at) in seen {
            if at > window_start && at <= now {
                self.remember(&id, at)?;
            }
        }
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("removing dedupe.json", &self.dir)(e)),
        }
    }

    /// The ids of the messages in the queue and its dead letters, with when they were enqueued.
    fn ids_present(&self) -> Result<BTreeMap<String, DateTime<Utc>>, PortError> {
        let mut seen = BTreeMap::new();
        for (_, bytes) in self.read_all("messages")? {
            if let Ok(m) = serde_json::from_slice::<QueuedMessage>(&bytes) {
                seen.insert(m.message_id, m.enqueued_at);
            }
        }
        for (_, bytes) in self.read_all("deadletter")? {
            // A dead letter that does not parse has no id to remember.
            if let Ok(d) = serde_json::from_slice::<DeadLetter>(&bytes) {
                if !d.message.message_id.is_empty() {
                    seen.insert(d.message.message_id, d.message.enqueued_at);
                }
            }
        }
        Ok(seen)
    }
}
