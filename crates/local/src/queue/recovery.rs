//! Recovery from a damaged queue directory, for `DiskQueue`: a corrupt message file goes to the dead letters with
//! its reason, dead letters and messages are only ever created (never replaced), the sequence recovers from the
//! files present, and a garbled duplicate-detection file is set aside and rebuilt (see the parent module).

use super::{io_err, DeadLetter, DiskQueue, QueuedMessage, CORRUPT_MESSAGE};
use crate::fsutil::{unique_id, write_new};
use chrono::{DateTime, Utc};
use nightshift_core::ports::PortError;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

impl DiskQueue {
    /// Moves a message file that cannot be read as a message to the dead letters, keeping its bytes.
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
            description: format!("messages/{file} is not a message: {error}"),
            dead_lettered_at: now,
        };
        self.write_dead_letter(&dead)?;
        std::fs::remove_file(path).map_err(io_err("dead-lettering", &self.dir))?;
        tracing::warn!(queue = %self.dir.display(), file = %file, "corrupt message dead-lettered: {error}");
        Ok(())
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

    /// The message ids seen inside the window: `dedupe.json`, or, when it is garbled, a rebuild from the messages
    /// present (the garbled file is set aside and the log says so).
    pub(super) fn seen_ids(
        &self,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, DateTime<Utc>>, PortError> {
        let path = self.dir.join("dedupe.json");
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(io_err("reading dedupe.json", &self.dir)(e)),
        };
        match serde_json::from_slice(&bytes) {
            Ok(seen) => Ok(seen),
            Err(e) => {
                let aside = self.dir.join(format!(
                    "dedupe.json.corrupt-{}",
                    now.format("%Y%m%dT%H%M%S%.fZ")
                ));
                std::fs::rename(&path, &aside)
                    .map_err(io_err("setting dedupe.json aside", &self.dir))?;
                let mut seen = BTreeMap::new();
                for (_, m) in self.messages()? {
                    seen.insert(m.message_id, m.enqueued_at);
                }
                for (_, bytes) in self.read_all("deadletter")? {
                    // A dead letter that does not parse has no id to remember.
                    if let Ok(d) = serde_json::from_slice::<DeadLetter>(&bytes) {
                        if !d.message.message_id.is_empty() {
                            seen.insert(d.message.message_id, d.message.enqueued_at);
                        }
                    }
                }
                self.write_json(&path, &seen)?;
                tracing::warn!(
                    queue = %self.dir.display(),
                    kept = %aside.display(),
                    "dedupe.json was garbled ({e}): rebuilt from the {} message ids present; a repeat of a \
                     message completed inside the duplicate window may be delivered again",
                    seen.len()
                );
                Ok(seen)
            }
        }
    }
}
