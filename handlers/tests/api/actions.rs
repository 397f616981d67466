//! The `actions` function: signed links from a chat message. GET shows a confirmation and changes nothing; POST
//! sends the `releases` message once; forged, altered, expired and replayed links are refused and recorded.

use crate::helpers::{spawn_app_with, TestApp};
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use nightshift_core::action_link::{self, ActionClaims, LinkAction};
use nightshift_core::{EnvironmentName, ProductName};
use nightshift_local::queue::QueueOptions;
use serde_json::{json, Value};

const KEY: &str = "the-actions-key-from-the-vault";

fn app() -> TestApp {
    let app = spawn_app_with(&[
        ("NIGHTSHIFT_PUBLIC_URL", "http://127.0.0.1:7071"),
        ("NIGHTSHIFT_ACTIONS_KEY_SECRET", "actions-link-key"),
    ]);
    let vault = app.settings.key_vault_dir();
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(vault.join("actions-link-key"), KEY).unwrap();
    app
}

fn token(action: LinkAction, key: &str, expires_in: Duration) -> String {
    let claims = ActionClaims {
        action,
        product: ProductName::parse("demo").unwrap(),
        environment: EnvironmentName::parse("pr-42").unwrap(),
        expires_at: chrono::DateTime::from_timestamp((Utc::now() + expires_in).timestamp(), 0)
            .unwrap(),
        token_id: action_link::token_id(&format!("{action:?} demo pr-42")),
    };
    action_link::sign(key.as_bytes(), &claims)
}

/// The HTTP invocation the host sends for `GET|POST /api/actions?token=...`.
fn request(method: &str, token: &str) -> Value {
    json!({
        "Data": { "req": {
            "Url": format!("http://127.0.0.1:7071/api/actions?token={token}"),
            "Method": method, "Query": { "token": token }, "Headers": {}, "Params": {}, "Body": null
        }},
        "Metadata": { "sys": { "MethodName": "actions", "UtcNow": "2026-12-01T09:00:00Z", "RandGuid": "0c9e8d7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f" } }
    })
}

async fn call(app: &TestApp, method: &str, token: &str) -> (u16, String) {
    let answer = app.invoke("actions", &request(method, token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let res = &answer.outputs()["res"];
    assert_eq!(res["headers"]["Content-Type"], "text/html; charset=utf-8");
    (
        res["statusCode"].as_u64().unwrap() as u16,
        res["body"].as_str().unwrap().to_string(),
    )
}

fn releases(app: &TestApp) -> Vec<(String, Value)> {
    let bus =
        nightshift_local::queue::LocalBus::new(app.settings.queues_dir(), QueueOptions::default());
    bus.queue("releases")
        .unwrap()
        .peek_all()
        .unwrap()
        .into_iter()
        .map(|m| (m.message_id.clone(), serde_json::from_str(&m.body).unwrap()))
        .collect()
}

/// The refusals `status` shows; none keeps a link's signature.
async fn rejected_reasons(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for r in app.app.repo.rejected().await.unwrap() {
        assert_eq!(r.queue, "actions");
        let signature = r.body.rsplit('.').next().unwrap_or("");
        assert!(signature.len() < 64, "a signature was kept: {}", r.body);
        out.push(r.reason);
    }
    out
}

#[tokio::test]
async fn a_get_of_a_valid_link_shows_a_confirmation_and_changes_nothing() {
    let app = app();
    let t = token(LinkAction::Extend, KEY, Duration::hours(1));
    let (status, html) = call(&app, "GET", &t).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("extend demo/pr-42 by 1d") && html.contains("method=\"post\""),
        "{html}"
    );
    assert!(releases(&app).is_empty(), "a GET sent a message");
    assert!(
        !app.settings.store_dir().join("action-tokens").exists(),
        "a GET used the token"
    );
}

#[tokio::test]
async fn a_post_sends_the_extend_message_once_and_a_replay_is_refused_and_recorded() {
    let app = app();
    let t = token(LinkAction::Extend, KEY, Duration::hours(1));
    let (status, html) = call(&app, "POST", &t).await;
    assert_eq!(status, 202, "{html}");
    let sent = releases(&app);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].0.starts_with("action-"), "{}", sent[0].0);
    assert_eq!(
        sent[0].1,
        json!({"schema": "nightshift.release/v1", "action": "extend", "product": "demo", "environment": "pr-42",
               "requested_by": "chat action link", "by": "1d"})
    );

    let (status, _) = call(&app, "POST", &t).await;
    assert_eq!(status, 409);
    assert_eq!(releases(&app).len(), 1, "a replay sent another message");
    let reasons = rejected_reasons(&app).await;
    assert!(
        reasons.iter().any(|r| r.contains("replayed")),
        "{reasons:?}"
    );
    let (status, _) = call(&app, "GET", &t).await;
    assert_eq!(status, 409, "the page says a used link is used");
}

#[tokio::test]
async fn a_keep_link_sends_keep_with_its_duration_and_a_reason() {
    let app = app();
    let (status, _) = call(
        &app,
        "POST",
        &token(LinkAction::Keep, KEY, Duration::hours(1)),
    )
    .await;
    assert_eq!(status, 202);
    let body = &releases(&app)[0].1;
    assert_eq!(body["action"], "keep");
    assert_eq!(body["for"], "1w", "the default keep_for, 7d");
    assert!(body["reason"].as_str().is_some_and(|r| !r.is_empty()));
}

#[tokio::test]
async fn a_forged_link_is_refused_and_recorded() {
    let app = app();
    let (status, html) = call(
        &app,
        "POST",
        &token(LinkAction::Extend, "not-the-key", Duration::hours(1)),
    )
    .await;
    assert_eq!(status, 403, "{html}");
    assert!(releases(&app).is_empty());
    assert!(rejected_reasons(&app)
        .await
        .iter()
        .any(|r| r.contains("forged")));
}

#[tokio::test]
async fn an_altered_link_is_refused_and_recorded() {
    let app = app();
    let t = token(LinkAction::Keep, KEY, Duration::hours(1)).replacen("keep.", "extend.", 1);
    let (status, _) = call(&app, "POST", &t).await;
    assert_eq!(status, 403);
    let t = token(LinkAction::Extend, KEY, Duration::hours(1)).replacen(".pr-42.", ".pr-43.", 1);
    let (status, _) = call(&app, "GET", &t).await;
    assert_eq!(status, 403);
    assert!(releases(&app).is_empty());
    assert_eq!(rejected_reasons(&app).await.len(), 2);
}

#[tokio::test]
async fn an_expired_link_is_refused_and_recorded() {
    let app = app();
    let (status, html) = call(
        &app,
        "POST",
        &token(LinkAction::Extend, KEY, Duration::hours(-1)),
    )
    .await;
    assert_eq!(status, 410, "{html}");
    assert!(releases(&app).is_empty());
    assert!(rejected_reasons(&app)
        .await
        .iter()
        .any(|r| r.contains("expired")));
}

#[tokio::test]
async fn without_an_actions_key_every_link_is_refused() {
    let app = crate::helpers::spawn_app();
    let answer = app
        .invoke(
            "actions",
            &request("POST", &token(LinkAction::Extend, KEY, Duration::hours(1))),
        )
        .await;
    assert_eq!(answer.outputs()["res"]["statusCode"], 404);
}
