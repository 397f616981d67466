//! `expiry-sweeper` (timer): destroys expired environments, within the configured cap (and not at all in dry run).

use crate::error::AppError;
use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;
use axum::extract::State;
use axum::Json;

pub async fn handle(
    State(app): State<AppState>,
    Json(_req): Json<InvocationRequest>,
) -> Result<Json<InvocationResponse>, AppError> {
    let (dry_run, cap) = (app.settings.sweep_dry_run, app.settings.sweep_cap);
    let report = app.sweep(None, dry_run, cap).await?;
    let logs = report
        .items
        .iter()
        .filter(|i| i.verdict == "delete")
        .map(|i| format!("{} {}: {}", i.action, i.resource_group, i.reason))
        .chain(std::iter::once(format!(
            "sweep: {} deleted, {} kept, {} deferred by the cap, {} waiting, {} errors{}",
            report.deleted,
            report.kept,
            report.deferred,
            report.waiting,
            report.errors,
            if dry_run { " (dry run)" } else { "" }
        )))
        .collect();
    Ok(Json(
        InvocationResponse {
            return_value: serde_json::to_value(&report).unwrap_or_default(),
            ..Default::default()
        }
        .with_logs(logs),
    ))
}
