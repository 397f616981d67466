//! `actions` (HTTP GET and POST `api/actions?token=...`): a signed link from a chat message. GET shows a
//! confirmation page and changes nothing; POST acts once (see `nightshift_app::usecases::actions`).

use crate::error::AppError;
use crate::invocation::{InvocationRequest, InvocationResponse};
use crate::AppState;
use axum::extract::State;
use axum::Json;

const BINDING: &str = "res";

pub async fn handle(
    State(app): State<AppState>,
    Json(req): Json<InvocationRequest>,
) -> Result<Json<InvocationResponse>, AppError> {
    let http = req.http_request("req")?;
    let token = http
        .query
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let page = match http.method.to_ascii_uppercase().as_str() {
        "POST" => app.action_apply(token).await?,
        "GET" | "HEAD" => app.action_confirm(token).await?,
        other => nightshift_app::usecases::actions::ActionPage {
            status: 405,
            html: format!("method {other} is not allowed: GET shows the action, POST confirms it"),
        },
    };
    Ok(Json(InvocationResponse::default().with_html(
        BINDING,
        page.status,
        page.html,
    )))
}
