//! `release-intake` carries every lifecycle action: an `extend` through the function moves the expiry and is
//! journaled once with who asked; a `close` of a persistent-looking bare entry is rejected and visible in `status`.

use crate::helpers::{fixture, spawn_app, with_message};
use axum::http::StatusCode;
use nightshift_app::repo::ActionOutcome;

#[tokio::test]
async fn an_extend_through_release_intake_moves_the_expiry_and_is_journaled_once() {
    // Arrange: the fixture's release built pr-42 (expiring after its 3d ttl; max_lifetime 7d).
    let app = spawn_app();
    app.release_fixture_run().await;
    let before = app
        .app
        .repo
        .environment("demo", "pr-42")
        .await
        .unwrap()
        .unwrap();
    let body = r#"{"schema":"nightshift.release/v1","action":"extend","product":"demo","environment":"pr-42","requested_by":"alice","by":"2d"}"#;
    let envelope = with_message(&fixture("release-intake.json"), body, "cli-extend-1");

    // Act
    let answer = app.invoke("release-intake", &envelope).await;
    let again = app.invoke("release-intake", &envelope).await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(
        answer.outputs().is_empty(),
        "an extend sends no step: {}",
        answer.text
    );
    assert!(answer.logs().contains("applied"), "{}", answer.logs());
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert!(again.logs().contains("handled already"), "{}", again.logs());
    let action = app
        .app
        .repo
        .action("cli-extend-1")
        .await
        .unwrap()
        .expect("journaled");
    assert_eq!(action.outcome, ActionOutcome::Applied);
    assert_eq!(action.requested_by.as_deref(), Some("alice"));
    let after = app
        .app
        .repo
        .environment("demo", "pr-42")
        .await
        .unwrap()
        .unwrap();
    let moved = before.expires_at.unwrap() + chrono::Duration::days(2);
    assert_eq!(after.expires_at, Some(moved), "moved once, not twice");
    assert_eq!(action.expires_at, Some(moved));
    assert_eq!(after.expiry_reason.as_deref(), Some("extended"));
}

#[tokio::test]
async fn an_action_on_the_bare_pull_request_entry_is_rejected_and_visible_in_status() {
    let app = spawn_app();
    let body = r#"{"schema":"nightshift.release/v1","action":"close","product":"demo","environment":"pr","requested_by":"github-actions"}"#;
    let envelope = with_message(&fixture("release-intake.json"), body, "close-bare-pr");

    let answer = app.invoke("release-intake", &envelope).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let action = app
        .app
        .repo
        .action("close-bare-pr")
        .await
        .unwrap()
        .expect("journaled");
    assert_eq!(action.outcome, ActionOutcome::Rejected);
    let report = app.status_report().await;
    let rejected = report["rejected"].as_array().expect("a rejected list");
    let record = rejected
        .iter()
        .find(|r| r["message_id"] == "close-bare-pr")
        .unwrap_or_else(|| panic!("not among the rejected: {rejected:?}"));
    assert!(
        record["reason"].as_str().unwrap().contains("pr-<suffix>"),
        "{record}"
    );
}
