//! `step-dispatch` (queue `steps`): starts the job of a step attempt; a redelivered message starts nothing new.

use super::MESSAGE_BINDING;
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
    let out = app.dispatch(&body, &req.message_id()).await?;
    Ok(Json(InvocationResponse::default().with_logs(out.logs)))
}
