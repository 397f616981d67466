//! `release-intake`: a release message starts one run; a malformed one is recorded as rejected and acknowledged.

use crate::helpers::{fixture, message_body, spawn_app, with_message, FIXTURE_RUN_ID};
use axum::http::StatusCode;
use nightshift_core::messages::STEP_SCHEMA;

#[tokio::test]
async fn a_release_starts_a_run_and_sends_its_first_steps() {
    // Arrange
    let app = spawn_app();
    let envelope = fixture("release-intake.json");

    // Act
    let answer = app.invoke("release-intake", &envelope).await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let steps = answer.steps();
    assert_eq!(steps.len(), 1, "only `provision` has no needs: {steps:?}");
    assert_eq!(steps[0].schema, STEP_SCHEMA);
    assert_eq!(steps[0].run_id.as_str(), FIXTURE_RUN_ID);
    assert_eq!(steps[0].step.as_str(), "provision");
    assert_eq!(steps[0].attempt, 1);
    let runs = app.stored_runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["id"], FIXTURE_RUN_ID);
    assert_eq!(runs[0]["trigger"]["type"], "release");
    assert_eq!(runs[0]["trigger"]["version"], "1.4.2");
}

#[tokio::test]
async fn the_same_release_delivered_again_creates_no_second_run() {
    // Arrange
    let app = spawn_app();
    let mut envelope = fixture("release-intake.json");
    app.invoke("release-intake", &envelope).await;
    let first = app.run_document(FIXTURE_RUN_ID).expect("the run is stored");
    envelope["Metadata"]["DeliveryCount"] = "2".into();

    // Act
    let answer = app.invoke("release-intake", &envelope).await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(app.stored_runs().len(), 1);
    assert_eq!(app.run_document(FIXTURE_RUN_ID).unwrap(), first);
    assert!(
        answer.logs().contains("exists already"),
        "{}",
        answer.logs()
    );
    // The still-queued first step is sent again, in case the first delivery's outputs were lost; its
    // deterministic message id lets Service Bus drop the duplicate.
    let again: Vec<_> = answer.steps().iter().map(|m| m.message_id()).collect();
    assert_eq!(again, [format!("{FIXTURE_RUN_ID}/provision/1/dispatch")]);
}

#[tokio::test]
async fn a_malformed_release_is_acknowledged_recorded_as_rejected_and_sends_nothing() {
    // Arrange
    let app = spawn_app();
    let envelope = fixture("release-intake.json");
    let good = message_body(&envelope);
    let variant = |key: &str, value: &str| {
        let mut body = good.clone();
        body[key] = value.into();
        body.to_string()
    };
    let cases = [
        (
            "bad-json",
            "{\"schema\": \"nightshift.release/v1\", ".to_string(),
            "not JSON",
        ),
        (
            "unknown-product",
            variant("product", "nosuch"),
            "unknown product",
        ),
        ("bad-ttl", variant("ttl", "3 days"), "ttl"),
        ("unknown-env", variant("environment", "staging"), "staging"),
        ("ttl-over-max", variant("ttl", "30d"), "30d"),
    ];

    for (id, body, _) in &cases {
        // Act
        let answer = app
            .invoke("release-intake", &with_message(&envelope, body, id))
            .await;

        // Assert
        assert_eq!(answer.status, StatusCode::OK, "{id}: {}", answer.text);
        assert!(answer.outputs().is_empty(), "{id}: {}", answer.text);
        assert!(
            answer.logs().contains("rejected"),
            "{id}: {}",
            answer.logs()
        );
    }
    assert!(app.stored_runs().is_empty(), "{:?}", app.stored_runs());
    let report = app.status_report().await;
    let rejected = report["rejected"].as_array().expect("a rejected list");
    for (id, _, needle) in &cases {
        let record = rejected
            .iter()
            .find(|r| r["message_id"] == *id)
            .unwrap_or_else(|| panic!("{id} is not among the rejected: {rejected:?}"));
        assert_eq!(record["queue"], "releases");
        let reason = record["reason"].as_str().unwrap();
        assert!(reason.contains(needle), "{id}: {reason:?} lacks {needle:?}");
    }
}
