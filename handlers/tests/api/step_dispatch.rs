//! `step-dispatch`: starts the job of the attempt it names, once.

use crate::helpers::{fixture, message_body, spawn_app, with_message, FIXTURE_RUN_ID};
use axum::http::StatusCode;

#[tokio::test]
async fn a_dispatch_delivered_twice_starts_one_job() {
    // Arrange
    let app = spawn_app();
    app.release_fixture_run().await;
    let mut envelope = fixture("step-dispatch.json");

    // Act
    let first = app.invoke("step-dispatch", &envelope).await;
    envelope["Metadata"]["DeliveryCount"] = "2".into();
    let second = app.invoke("step-dispatch", &envelope).await;

    // Assert
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(app.job_count(), 1);
    assert!(first.logs().contains("started"), "{}", first.logs());
    assert!(
        second.logs().contains("not started again"),
        "{}",
        second.logs()
    );
    let run: serde_json::Value =
        serde_json::from_str(&app.run_document(FIXTURE_RUN_ID).unwrap()).unwrap();
    assert_eq!(run["steps"]["provision"]["status"], "running");
}

#[tokio::test]
async fn a_dispatch_for_a_stale_attempt_is_acknowledged_and_starts_nothing() {
    // Arrange
    let app = spawn_app();
    app.release_fixture_run().await;
    let envelope = fixture("step-dispatch.json");
    let mut body = message_body(&envelope);
    body["attempt"] = 2.into();
    let stale = with_message(
        &envelope,
        &body.to_string(),
        &format!("{FIXTURE_RUN_ID}/provision/2/dispatch"),
    );
    let before = app.run_document(FIXTURE_RUN_ID).unwrap();

    // Act
    let answer = app.invoke("step-dispatch", &stale).await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(app.job_count(), 0);
    assert!(answer.logs().contains("ignored"), "{}", answer.logs());
    assert_eq!(app.run_document(FIXTURE_RUN_ID).unwrap(), before);
}
