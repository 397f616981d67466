//! `step-dispatch` (queue `steps`): starts the job of a step attempt; a redelivered message starts nothing new.

use super::{message, Message, STEPS_BINDING};
use crate::error::AppError;
use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use nightshift_core::messages::STEPS_QUEUE;

pub async fn handle(
    State(app): State<AppState>,
    Json(req): Json<InvocationRequest>,
) -> Result<Json<InvocationResponse>, AppError> {
    let (body, message_id) = match message(&app, &req, STEPS_QUEUE).await? {
        Message::Handle { body, message_id } => (body, message_id),
        Message::Rejected(answer) => return Ok(Json(answer)),
    };
    let out = app.dispatch(&body, &message_id).await?;
    // A job slot it gave back (a stale attempt, a job that can never start) wakes the next waiting attempt.
    Ok(Json(
        InvocationResponse::default()
            .with_messages(STEPS_BINDING, out.steps)
            .with_logs(out.logs),
    ))
}
