//! `step-events` (queue `step-events`): applies a job's result and sends the steps it made ready.

use super::{MESSAGE_BINDING, STEPS_BINDING};
use crate::error::AppError;
use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;
use axum::extract::State;
use axum::Json;

pub async fn handle(
    State(app): State<AppState>,
    Json(req): Json<InvocationRequest>,
) -> Result<Json<InvocationResponse>, AppError> {
    let body = req.message_body(MESSAGE_BINDING)?;
    let out = app.step_event(&body, &req.message_id()).await?;
    Ok(Json(
        InvocationResponse::default()
            .with_messages(STEPS_BINDING, out.steps)
            .with_logs(out.logs),
    ))
}
