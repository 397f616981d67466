//! `LocalBus`: the `Bus` port over a directory of `DiskQueue`s.

use super::{DiskQueue, NewMessage, QueueOptions, SendOutcome};
use crate::fsutil::{blocking, check_segment};
use async_trait::async_trait;
use nightshift_core::ports::{Bus, OutboundMessage, PortError};
use std::path::{Path, PathBuf};

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
