//! `step-events`: a job's result moves the run on; the same result again changes nothing.

use crate::helpers::{fixture, spawn_app, FIXTURE_RUN_ID};
use axum::http::StatusCode;

#[tokio::test]
async fn a_success_for_the_running_attempt_queues_the_dependents() {
    // Arrange
    let app = spawn_app();
    app.release_fixture_run().await;
    app.invoke("step-dispatch", &fixture("step-dispatch.json"))
        .await;

    // Act
    let answer = app
        .invoke("step-events", &fixture("step-events.json"))
        .await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let steps = answer.steps();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].run_id.as_str(), FIXTURE_RUN_ID);
    assert_eq!(steps[0].step.as_str(), "verify");
    assert_eq!(steps[0].attempt, 1);
    let run: serde_json::Value =
        serde_json::from_str(&app.run_document(FIXTURE_RUN_ID).unwrap()).unwrap();
    assert_eq!(run["steps"]["provision"]["status"], "succeeded");
    assert_eq!(
        run["steps"]["provision"]["outputs"]["url"],
        "http://localhost:8042"
    );
    assert_eq!(run["steps"]["verify"]["status"], "queued");
}

#[tokio::test]
async fn the_same_step_event_again_changes_nothing_in_the_run() {
    // Arrange
    let app = spawn_app();
    app.release_fixture_run().await;
    app.invoke("step-dispatch", &fixture("step-dispatch.json"))
        .await;
    let mut envelope = fixture("step-events.json");
    let first = app.invoke("step-events", &envelope).await;
    let stored = app.run_document(FIXTURE_RUN_ID).unwrap();
    envelope["Metadata"]["DeliveryCount"] = "2".into();

    // Act
    let again = app.invoke("step-events", &envelope).await;

    // Assert
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(app.run_document(FIXTURE_RUN_ID).unwrap(), stored);
    // Only what is still queued is sent again, under the same deterministic message ids.
    let ids = |a: &crate::helpers::Answer| -> Vec<String> {
        a.steps().iter().map(|m| m.message_id()).collect()
    };
    assert_eq!(ids(&again), ids(&first));
}
