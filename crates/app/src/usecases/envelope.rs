//! Envelope check (every queue-triggered function): a message whose envelope can never succeed is recorded as
//! rejected before its body is read.
//!
//! A `MessageId` that is missing, empty, longer than Service Bus allows or holding control characters, or a body
//! over the size bound, used to reach the store as part of a key and fail there with a 500, so the host retried it
//! until it was dead-lettered, with no record (issue 8). It is refused here, with the reason, and acknowledged.

use crate::service::{App, AppError, Outputs};
use nightshift_core::messages::check_envelope;

impl App {
    /// `Ok(None)` when the message may be handled; otherwise the rejection is recorded and its outputs returned.
    pub async fn check_envelope(
        &self,
        queue: &str,
        message_id: Option<&str>,
        body: &str,
    ) -> Result<Option<Outputs>, AppError> {
        let Err(why) = check_envelope(message_id, body) else {
            return Ok(None);
        };
        let mut out = Outputs::default();
        self.reject(queue, message_id.unwrap_or_default(), body, &why, &mut out)
            .await?;
        Ok(Some(out))
    }
}
