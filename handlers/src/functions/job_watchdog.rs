//! `job-watchdog` (timer): reconciles jobs whose result never came, and dispatches that were lost.

use super::STEPS_BINDING;
use crate::error::AppError;
use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;
use axum::extract::State;
use axum::Json;

pub async fn handle(
    State(app): State<AppState>,
    Json(_req): Json<InvocationRequest>,
) -> Result<Json<InvocationResponse>, AppError> {
    let out = app.watchdog().await?;
    Ok(Json(
        InvocationResponse::default()
            .with_messages(STEPS_BINDING, out.steps)
            .with_logs(out.logs),
    ))
}
