//! One module per function: each unpacks its invocation, calls one use case, and packs the outputs.

pub mod actions;
pub mod expiry_sweeper;
pub mod job_watchdog;
pub mod nightly_scheduler;
pub mod notification_retry;
pub mod release_intake;
pub mod status;
pub mod step_dispatch;
pub mod step_events;

/// The Service Bus output binding that carries step dispatches (function.json: `"name": "steps"`).
pub const STEPS_BINDING: &str = "steps";
/// The Service Bus trigger binding (function.json: `"name": "message"`).
pub const MESSAGE_BINDING: &str = "message";

use crate::error::AppError;
use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;

/// A Service Bus message: its body and id, or, when its envelope can never succeed (no usable `MessageId`, a body
/// past the bound), the answer after its rejection was recorded.
pub(crate) enum Message {
    Handle { body: String, message_id: String },
    Rejected(InvocationResponse),
}

pub(crate) async fn message(
    app: &AppState,
    req: &InvocationRequest,
    queue: &str,
) -> Result<Message, AppError> {
    let body = req.message_body(MESSAGE_BINDING)?;
    let message_id = req.meta("MessageId");
    match app
        .check_envelope(queue, message_id.as_deref(), &body)
        .await?
    {
        Some(out) => Ok(Message::Rejected(
            InvocationResponse::default().with_logs(out.logs),
        )),
        None => Ok(Message::Handle {
            body,
            message_id: message_id.unwrap_or_default(),
        }),
    }
}
