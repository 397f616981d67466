//! `status` (HTTP GET `api/status/{*path}`): runs and environments as JSON, a page of runs at a time
//! (`?limit=N&cursor=TOKEN`, the cursor being the `next_cursor` of the page before); `status/runs/<id>` for one run.

use crate::error::AppError;
use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;
use axum::extract::State;
use axum::Json;
use nightshift_app::usecases::status::{StatusQuery, MAX_LIMIT};
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
        let query = match page_query(&http.query) {
            Ok(q) => q,
            Err(why) => {
                return Ok(Json(resp.with_http(
                    BINDING,
                    400,
                    &serde_json::json!({ "error": why }),
                )))
            }
        };
        let report = match app.status_page(&query).await {
            Ok(r) => r,
            // A cursor that is not one status gave: the caller's mistake, said as such.
            Err(e) if !e.is_retryable() && query.cursor.is_some() => {
                return Ok(Json(resp.with_http(
                    BINDING,
                    400,
                    &serde_json::json!({ "error": e.to_string() }),
                )))
            }
            Err(e) => return Err(e.into()),
        };
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

/// `limit` (1 to 500, default 20) and `cursor` from the query string.
fn page_query(query: &[(String, String)]) -> Result<StatusQuery, String> {
    let mut q = StatusQuery::default();
    for (k, v) in query {
        match k.as_str() {
            "limit" => {
                q.limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!("limit={v:?}: expected a whole number from 1 to {MAX_LIMIT}")
                    })?
            }
            "cursor" if !v.is_empty() => q.cursor = Some(v.clone()),
            _ => {}
        }
    }
    Ok(q)
}
