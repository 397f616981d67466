//! `health` (HTTP GET `api/health`, anonymous): 200 when the store is reachable, 503 when it is not.

use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;
use axum::extract::State;
use axum::Json;

const BINDING: &str = "res";

pub async fn handle(
    State(app): State<AppState>,
    Json(_req): Json<InvocationRequest>,
) -> Json<InvocationResponse> {
    let health = app.health().await;
    let code = if health.healthy {
        200
    } else {
        tracing::error!(
            error = health.error.as_deref().unwrap_or(""),
            "health check failed"
        );
        503
    };
    let body = serde_json::to_value(&health).unwrap_or_default();
    Json(InvocationResponse::default().with_http(BINDING, code, &body))
}
