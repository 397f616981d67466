//! What is answered when the envelope is wrong (400, with a message) and when something inside fails (an opaque
//! 500, so the host abandons the message and Service Bus redelivers it).

use crate::helpers::{fixture, spawn_app};
use axum::http::StatusCode;

#[tokio::test]
async fn an_envelope_without_the_trigger_binding_answers_400_with_a_message() {
    // Arrange
    let app = spawn_app();
    let mut envelope = fixture("release-intake.json");
    let body = envelope["Data"]
        .as_object_mut()
        .unwrap()
        .remove("message")
        .unwrap();
    envelope["Data"]["msg"] = body;

    // Act
    let answer = app.invoke("release-intake", &envelope).await;

    // Assert
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    let error = answer.json["error"].as_str().expect("an error message");
    assert!(error.contains("Data.message"), "{error}");
    assert!(app.stored_runs().is_empty());
}

#[tokio::test]
async fn an_http_envelope_without_req_answers_400() {
    // Arrange
    let app = spawn_app();
    let mut envelope = fixture("status.json");
    envelope["Data"] = serde_json::json!({});

    // Act
    let answer = app.invoke("status", &envelope).await;

    // Assert
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert!(answer.json["error"].as_str().unwrap().contains("Data.req"));
}

#[tokio::test]
async fn a_store_that_cannot_be_written_answers_an_opaque_500() {
    // Arrange: a file where the store's directory should be, so every write fails (root ignores permissions, so
    // a read-only directory would not do).
    let app = spawn_app();
    let store = app.store_dir();
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    std::fs::write(&store, "not a directory").unwrap();

    // Act
    let answer = app
        .invoke("release-intake", &fixture("release-intake.json"))
        .await;

    // Assert
    assert_eq!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        answer.text
    );
    assert_eq!(
        answer.json,
        serde_json::json!({ "error": "internal error" })
    );
    let root = app.root.path().display().to_string();
    for leak in [root.as_str(), "store", "directory", "runs/", "demo"] {
        assert!(
            !answer.text.contains(leak),
            "the answer leaks {leak:?}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_an_envelope_is_refused_as_a_client_error() {
    // Arrange
    let app = spawn_app();

    // Act
    let answer = app.post_raw("/release-intake", "not json").await;

    // Assert
    assert!(
        answer.status.is_client_error(),
        "{}: {}",
        answer.status,
        answer.text
    );
    assert!(app.stored_runs().is_empty());
}
