//! `step-events` (queue `step-events`): applies a job's result and sends the steps it made ready.

use super::{message, Message, STEPS_BINDING};
use crate::error::AppError;
use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use nightshift_core::messages::STEP_EVENTS_QUEUE;

pub async fn handle(
    State(app): State<AppState>,
    Json(req): Json<InvocationRequest>,
) -> Result<Json<InvocationResponse>, AppError> {
    let (body, message_id) = match message(&app, &req, STEP_EVENTS_QUEUE).await? {
        Message::Handle { body, message_id } => (body, message_id),
        Message::Rejected(answer) => return Ok(Json(answer)),
    };
    let out = app.step_event(&body, &message_id).await?;
    Ok(Json(
        InvocationResponse::default()
            .with_messages(STEPS_BINDING, out.steps)
            .with_logs(out.logs),
    ))
}
