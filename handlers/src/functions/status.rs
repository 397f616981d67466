//! `status` (HTTP GET `api/status/{*path}`): runs and environments as JSON; `status/runs/<id>` for one run.

use crate::error::AppError;
use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use nightshift_core::RunId;

const BINDING: &str = "res";

pub async fn handle(
    State(app): State<AppState>,
    Json(req): Json<InvocationRequest>,
) -> Result<Json<InvocationResponse>, AppError> {
    let http = req.http_request("req")?;
    let path = http
        .param("path")
        .unwrap_or("")
        .trim_matches('/')
        .to_string();
    let resp = InvocationResponse::default();
    if path.is_empty() {
        let report = app.status().await?;
        return Ok(Json(resp.with_http(
            BINDING,
            200,
            &serde_json::to_value(report).unwrap_or_default(),
        )));
    }
    if let Some(id) = path.strip_prefix("runs/") {
        let Ok(id) = RunId::parse(id) else {
            return Ok(Json(resp.with_http(
                BINDING,
                400,
                &serde_json::json!({"error": format!("{id:?} is not a run id")}),
            )));
        };
        return Ok(Json(match app.run(&id).await? {
            Some(run) => resp.with_http(
                BINDING,
                200,
                &serde_json::to_value(nightshift_app::service::summarize(&run, app.now()))
                    .unwrap_or_default(),
            ),
            None => resp.with_http(
                BINDING,
                404,
                &serde_json::json!({"error": format!("no run {id}")}),
            ),
        }));
    }
    Ok(Json(resp.with_http(
        BINDING,
        404,
        &serde_json::json!({"error": "unknown path: use status or status/runs/<id>"}),
    )))
}
