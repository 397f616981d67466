//! `LocalNotifier`: the `Notifier` port as a JSON-lines file (`<state>/notifications.jsonl`) and one human line
//! on stderr through `tracing`, in place of Slack or Teams.

use crate::fsutil::{blocking, io_error};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nightshift_core::engine::Notification;
use nightshift_core::ports::{Clock, Notifier, PortError, SystemClock};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One line of the notifications file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub notification: Notification,
}

/// Appends notifications to a JSON-lines file.
#[derive(Clone)]
pub struct LocalNotifier {
    path: PathBuf,
    clock: Arc<dyn Clock>,
}

impl LocalNotifier {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every notification sent so far, oldest first (none if the file does not exist).
    pub fn read_all(&self) -> Result<Vec<NotificationRecord>, PortError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error("reading notifications", e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| PortError::Permanent(format!("bad notification line: {e}")))
            })
            .collect()
    }
}

#[async_trait]
impl Notifier for LocalNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), PortError> {
        let record = NotificationRecord {
            at: self.clock.now(),
            notification: notification.clone(),
        };
        tracing::info!(
            target: "nightshift::notify",
            "[{:?}] {}/{} run {}: {}",
            notification.kind,
            notification.product,
            notification.environment,
            notification.run,
            notification.text
        );
        let mut line = serde_json::to_vec(&record)
            .map_err(|e| PortError::Permanent(format!("serializing notification: {e}")))?;
        line.push(b'\n');
        let path = self.path.clone();
        blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io_error("notifications dir", e))?;
            }
            // One write on an O_APPEND file: concurrent writers do not interleave within a line.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| f.write_all(&line))
                .map_err(|e| io_error(format!("appending to {}", path.display()), e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nightshift_core::engine::NotificationKind;

    #[tokio::test]
    async fn each_notification_is_appended_as_one_json_line() {
        let dir = tempfile::tempdir().unwrap();
        let notifier = LocalNotifier::new(dir.path().join("state/notifications.jsonl"));
        let n = Notification {
            kind: NotificationKind::RunFailed,
            run: "r1".into(),
            product: "shop".into(),
            environment: "nightly".into(),
            text: "step infra failed".into(),
            details: Default::default(),
        };
        notifier.notify(&n).await.unwrap();
        notifier.notify(&n).await.unwrap();
        let text = std::fs::read_to_string(notifier.path()).unwrap();
        assert_eq!(text.lines().count(), 2);
        let records = notifier.read_all().unwrap();
        assert_eq!(records[1].notification, n);
    }
}
