//! `nightly-scheduler` (timer): starts tonight's runs.

use super::STEPS_BINDING;
use crate::error::AppError;
use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;
use axum::extract::State;
use axum::Json;

pub async fn handle(
    State(app): State<AppState>,
    Json(req): Json<InvocationRequest>,
) -> Result<Json<InvocationResponse>, AppError> {
    let past_due = req
        .data
        .get("timer")
        .and_then(|t| t.get("IsPastDue"))
        .and_then(crate::invocation::unquote)
        .is_some_and(|v| v == "true");
    let mut out = app.nightly().await?;
    if past_due {
        out.logs.push("timer was past due".into());
    }
    Ok(Json(
        InvocationResponse::default()
            .with_messages(STEPS_BINDING, out.steps)
            .with_logs(out.logs),
    ))
}
