//! Recovery from a damaged queue directory, for `DiskQueue`: a corrupt message file (or a stray file among the
//! state markers) goes to the dead letters with its reason, dead letters and messages are only ever created
//! (never replaced), the sequence recovers from the files present, and a queue directory of the earlier layout
//! (each message's state inside its file, one `dedupe.json`) is migrated (see the parent module).

use super::state::{millis, Marker, LOCKED, READY, SCHEDULED, STATES};
use super::{io_err, DeadLetter, DiskQueue, QueuedMessage, CORRUPT_MESSAGE};
use crate::fsutil::{unique_id, write_new};
use nightshift_core::ports::PortError;
use std::io;
use std::path::Path;

const STAGING: &str = ".migrate";

impl DiskQueue {
    /// Moves a file that cannot be read as a message (or a marker) to the dead letters, keeping its bytes.
    pub(super) fn dead_letter_corrupt(
        &self,
        path: &Path,
        bytes: &[u8],
        error: &str,
    ) -> Result<(), PortError> {
        let now = self.options.clock.now();
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let relative = path
            .strip_prefix(&self.dir)
            .unwrap_or(path)
            .display()
            .to_string();
        let sequence_number = file
            .strip_suffix(".json")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let dead = DeadLetter {
            message: QueuedMessage {
                sequence_number,
                message_id: String::new(),
                correlation_id: None,
                body: String::from_utf8_lossy(bytes).into_owned(),
                enqueued_at: now,
                scheduled_at: None,
                delivery_count: 0,
                lock_token: None,
                locked_until: None,
            },
            reason: CORRUPT_MESSAGE.to_string(),
            description: format!("{relative} is not a message: {error}"),
            dead_lettered_at: now,
        };
        self.write_dead_letter(&dead)?;
        std::fs::remove_file(path).map_err(io_err("dead-lettering", &self.dir))?;
        tracing::warn!(queue = %self.dir.display(), file = %relative, "corrupt message dead-lettered: {error}");
        Ok(())
    }

    /// A file in a state directory whose name is not a marker's: dead-lettered with its bytes, so it neither
    /// blocks the queue nor disappears unseen.
    pub(super) fn set_aside_marker(&self, path: &Path) -> Result<(), PortError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("reading", &self.dir)(e)),
        };
        self.dead_letter_corrupt(path, &bytes, "its name is not a queue state marker")
    }

    /// Writes a dead letter without replacing one: a sequence number seen twice gets a suffix.
    pub(super) fn write_dead_letter(&self, dead: &DeadLetter) -> Result<(), PortError> {
        let bytes = serde_json::to_vec_pretty(dead)
            .map_err(|e| PortError::Permanent(format!("serializing: {e}")))?;
        let seq = dead.message.sequence_number;
        let mut path = self.message_path("deadletter", seq);
        while !write_new(&path, &bytes).map_err(io_err("dead-lettering", &self.dir))? {
            path = self
                .dir
                .join("deadletter")
                .join(format!("{seq:020}-{}.json", unique_id()));
        }
        Ok(())
    }

    /// The highest sequence number of any message file present, live or dead-lettered.
    pub(super) fn highest_present(&self) -> Result<u64, PortError> {
        let mut highest = 0;
        for sub in ["messages", "deadletter"] {
            let entries =
                std::fs::read_dir(self.dir.join(sub)).map_err(io_err("listing", &self.dir))?;
            for entry in entries {
                let entry = entry.map_err(io_err("listing", &self.dir))?;
                let name = entry.file_name();
                let seq = name
                    .to_string_lossy()
                    .split(['.', '-'])
                    .next()
                    .and_then(|n| n.parse::<u64>().ok());
                highest = highest.max(seq.unwrap_or(0));
            }
        }
        Ok(highest)
    }

    /// Gives every message file a state marker, from the state its file holds (the earlier layout), and creates
    /// the state directories; a new queue just gets its directories. The markers are made in a staging directory
    /// and `ready` is moved in last, so a crash part-way leaves a queue that migrates again from the start. Call
    /// with the lock held, when `ready` is missing.
    pub(super) fn migrate_layout(&self) -> Result<(), PortError> {
        if self.dir.join(READY).is_dir() {
            return Ok(());
        }
        let staging = self.dir.join(STAGING);
        for leftover in [
            staging.clone(),
            self.dir.join(SCHEDULED),
            self.dir.join(LOCKED),
        ] {
            match std::fs::remove_dir_all(&leftover) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("clearing an unfinished migration", &self.dir)(e)),
            }
        }
        for state in STATES {
            std::fs::create_dir_all(staging.join(state)).map_err(io_err("creating", &self.dir))?;
        }
        let now = self.options.clock.now();
        let mut migrated = 0;
        for (path, bytes) in self.read_all("messages")? {
            let seq = path
                .file_stem()
                .and_then(|s| s.to_string_lossy().parse::<u64>().ok());
            let Some(seq) = seq else {
                self.dead_letter_corrupt(&path, &bytes, "its name is not a sequence number")?;
                continue;
            };
            // A file that does not parse gets a marker too: the receive that reaches it dead-letters it.
            let marker = match serde_json::from_slice::<QueuedMessage>(&bytes) {
                Ok(m) => match (m.lock_token, m.locked_until, m.scheduled_at) {
                    (Some(token), Some(until), _) if until > now => Marker::Locked {
                        until_ms: millis(until),
                        seq,
                        deliveries: m.delivery_count,
                        token,
                    },
                    (_, _, Some(at)) if at > now => Marker::Scheduled {
                        due_ms: millis(at),
                        seq,
                        deliveries: m.delivery_count,
                    },
                    _ => Marker::Ready {
                        seq,
                        deliveries: m.delivery_count,
                    },
                },
                Err(_) => Marker::Ready { seq, deliveries: 0 },
            };
            std::fs::File::create(staging.join(marker.state()).join(marker.file_name()))
                .map_err(io_err("migrating", &self.dir))?;
            migrated += 1;
        }
        for state in [SCHEDULED, LOCKED, READY] {
            std::fs::rename(staging.join(state), self.dir.join(state))
                .map_err(io_err("migrating", &self.dir))?;
        }
        std::fs::remove_dir_all(&staging).map_err(io_err("migrating", &self.dir))?;
        if migrated > 0 {
            tracing::warn!(queue = %self.dir.display(), "{migrated} messages of the earlier queue layout migrated: their states are now markers under ready/, scheduled/ and locked/");
        }
        Ok(())
    }

    /// Message files with no marker in any state: a send that died between writing its message and its marker
    /// (its sender saw no success and sends again), or a file put there by other means. One that parses gets a
    /// `ready` marker (delivered, at least once); one that does not is dead-lettered with its reason, so no file
    /// in `messages/` is ever silently ignored. Lists names only; a receive that finds nothing visible calls it.
    /// Returns how many were made ready. Call with the lock held.
    pub(super) fn adopt_orphans(&self) -> Result<usize, PortError> {
        let mut marked = std::collections::BTreeSet::new();
        for state in STATES {
            for marker in self.markers(state)?.into_iter().flatten() {
                marked.insert(marker.seq());
            }
        }
        let entries =
            std::fs::read_dir(self.dir.join("messages")).map_err(io_err("listing", &self.dir))?;
        let mut orphans = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("listing", &self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let seq = name
                .strip_suffix(".json")
                .and_then(|n| n.parse::<u64>().ok());
            if seq.is_none_or(|seq| !marked.contains(&seq)) {
                orphans.push((entry.path(), seq));
            }
        }
        let mut adopted = 0;
        for (path, seq) in orphans {
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("reading", &self.dir)(e)),
            };
            let parsed = serde_json::from_slice::<QueuedMessage>(&bytes);
            match (seq, parsed) {
                (Some(seq), Ok(_)) => {
                    self.create_marker(&Marker::Ready { seq, deliveries: 0 })?;
                    tracing::warn!(queue = %self.dir.display(), seq, "a message without a state marker (a send that died) is made ready");
                    adopted += 1;
                }
                (None, _) => {
                    self.dead_letter_corrupt(&path, &bytes, "its name is not a sequence number")?
                }
                (_, Err(e)) => self.dead_letter_corrupt(&path, &bytes, &e.to_string())?,
            }
        }
        Ok(adopted)
    }
}
