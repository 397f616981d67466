//! `notification-retry` (queue `notifications`): one more try of a webhook delivery that failed, scheduled with
//! backoff by the delivery itself.

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
    let out = app.notification_retry(&req.message_id(), &body).await?;
    Ok(Json(InvocationResponse::default().with_logs(out.logs)))
}
