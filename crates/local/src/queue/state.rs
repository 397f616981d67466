//! Where a message stands, kept as the name of an empty marker file in one directory per state, so that a receive
//! reads directory listings and one message file instead of parsing every message:
//!
//! - `ready/<sequence>_<deliveries>`: visible now;
//! - `scheduled/<due ms>_<sequence>_<deliveries>`: invisible until its time;
//! - `locked/<until ms>_<sequence>_<deliveries>_<lock token>`: received, invisible until its lock expires.
//!
//! A message changes state by a rename of its marker (atomic: a message is in exactly one state), and its body is
//! in `messages/<sequence>.json`, written once at send and never changed. Numbers are zero-padded so names sort
//! by time, then sequence.

use super::{io_err, DiskQueue};
use chrono::{DateTime, TimeZone, Utc};
use nightshift_core::ports::PortError;
use std::io;
use std::path::PathBuf;

pub(super) const READY: &str = "ready";
pub(super) const SCHEDULED: &str = "scheduled";
pub(super) const LOCKED: &str = "locked";
pub(super) const STATES: [&str; 3] = [READY, SCHEDULED, LOCKED];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Marker {
    Ready {
        seq: u64,
        deliveries: u32,
    },
    Scheduled {
        due_ms: i64,
        seq: u64,
        deliveries: u32,
    },
    Locked {
        until_ms: i64,
        seq: u64,
        deliveries: u32,
        token: String,
    },
}

pub(super) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis().max(0)
}

pub(super) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Marker {
    pub(super) fn seq(&self) -> u64 {
        match self {
            Marker::Ready { seq, .. }
            | Marker::Scheduled { seq, .. }
            | Marker::Locked { seq, .. } => *seq,
        }
    }

    pub(super) fn deliveries(&self) -> u32 {
        match self {
            Marker::Ready { deliveries, .. }
            | Marker::Scheduled { deliveries, .. }
            | Marker::Locked { deliveries, .. } => *deliveries,
        }
    }

    pub(super) fn state(&self) -> &'static str {
        match self {
            Marker::Ready { .. } => READY,
            Marker::Scheduled { .. } => SCHEDULED,
            Marker::Locked { .. } => LOCKED,
        }
    }

    pub(super) fn file_name(&self) -> String {
        match self {
            Marker::Ready { seq, deliveries } => format!("{seq:020}_{deliveries}"),
            Marker::Scheduled {
                due_ms,
                seq,
                deliveries,
            } => format!("{due_ms:020}_{seq:020}_{deliveries}"),
            Marker::Locked {
                until_ms,
                seq,
                deliveries,
                token,
            } => format!("{until_ms:020}_{seq:020}_{deliveries}_{token}"),
        }
    }

    /// The marker a file name in a state directory stands for; `None` when it is not one.
    pub(super) fn parse(state: &str, name: &str) -> Option<Marker> {
        let parts: Vec<&str> = name.splitn(4, '_').collect();
        let n = |i: usize| parts.get(i).and_then(|p| p.parse::<u64>().ok());
        let count = |i: usize| parts.get(i).and_then(|p| p.parse::<u32>().ok());
        let ms = |i: usize| parts.get(i).and_then(|p| p.parse::<i64>().ok());
        match (state, parts.len()) {
            (READY, 2) => Some(Marker::Ready {
                seq: n(0)?,
                deliveries: count(1)?,
            }),
            (SCHEDULED, 3) => Some(Marker::Scheduled {
                due_ms: ms(0)?,
                seq: n(1)?,
                deliveries: count(2)?,
            }),
            (LOCKED, 4) if !parts[3].is_empty() => Some(Marker::Locked {
                until_ms: ms(0)?,
                seq: n(1)?,
                deliveries: count(2)?,
                token: parts[3].to_string(),
            }),
            _ => None,
        }
    }

    /// Visible at `now_ms`: ready, due, or its lock expired.
    pub(super) fn visible_at(&self, now_ms: i64) -> bool {
        match self {
            Marker::Ready { .. } => true,
            Marker::Scheduled { due_ms, .. } => *due_ms <= now_ms,
            Marker::Locked { until_ms, .. } => *until_ms <= now_ms,
        }
    }
}

impl DiskQueue {
    pub(super) fn marker_path(&self, marker: &Marker) -> PathBuf {
        self.dir.join(marker.state()).join(marker.file_name())
    }

    /// The markers of one state, sorted by name (time, then sequence). A name that is not a marker is returned
    /// as `Err(path)` for the caller to set aside.
    pub(super) fn markers(&self, state: &str) -> Result<Vec<Result<Marker, PathBuf>>, PortError> {
        let mut names = Vec::new();
        let entries =
            std::fs::read_dir(self.dir.join(state)).map_err(io_err("listing", &self.dir))?;
        for entry in entries {
            let entry = entry.map_err(io_err("listing", &self.dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            names.push(name);
        }
        names.sort();
        Ok(names
            .into_iter()
            .map(|name| Marker::parse(state, &name).ok_or_else(|| self.dir.join(state).join(&name)))
            .collect())
    }

    /// Creates a marker (a message enters the queue). `false` when it exists already.
    pub(super) fn create_marker(&self, marker: &Marker) -> Result<bool, PortError> {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.marker_path(marker))
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io_err("marking", &self.dir)(e)),
        }
    }

    /// Moves a message from one state to another.
    pub(super) fn move_marker(&self, from: &Marker, to: &Marker) -> Result<(), PortError> {
        std::fs::rename(self.marker_path(from), self.marker_path(to))
            .map_err(io_err("changing a message's state", &self.dir))
    }

    pub(super) fn remove_marker(&self, marker: &Marker) -> Result<(), PortError> {
        match std::fs::remove_file(self.marker_path(marker)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("removing a marker", &self.dir)(e)),
        }
    }

    /// The locked message with this token, if its lock still holds.
    pub(super) fn locked_marker(&self, lock_token: &str, now_ms: i64) -> Result<Marker, PortError> {
        self.markers(LOCKED)?
            .into_iter()
            .flatten()
            .find(|m| matches!(m, Marker::Locked { token, until_ms, .. } if token == lock_token && *until_ms > now_ms))
            .ok_or_else(|| {
                PortError::Conflict(format!(
                    "lock {lock_token} lost: the lock expired or the message was settled"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_marker_reads_back_from_its_file_name() {
        let markers = [
            Marker::Ready {
                seq: 7,
                deliveries: 2,
            },
            Marker::Scheduled {
                due_ms: 1_900_000_000_000,
                seq: 8,
                deliveries: 0,
            },
            Marker::Locked {
                until_ms: 1_900_000_000_000,
                seq: 9,
                deliveries: 3,
                token: "0a1b2c3d-0000-1111-2222-333344445555".into(),
            },
        ];
        for m in markers {
            assert_eq!(Marker::parse(m.state(), &m.file_name()), Some(m.clone()));
        }
        assert_eq!(Marker::parse(READY, "junk"), None);
        assert_eq!(Marker::parse(LOCKED, "1_2_3_"), None);
        assert_eq!(Marker::parse(SCHEDULED, "00000000000000000001_2"), None);
    }

    #[test]
    fn markers_sort_by_time_then_sequence() {
        let a = Marker::Scheduled {
            due_ms: 999,
            seq: 50,
            deliveries: 0,
        };
        let b = Marker::Scheduled {
            due_ms: 1000,
            seq: 2,
            deliveries: 0,
        };
        assert!(a.file_name() < b.file_name());
    }
}
