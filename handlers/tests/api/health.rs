//! `health` (anonymous HTTP GET `api/health`): what the Function App's health check calls.

use crate::helpers::{fixture, spawn_app};
use axum::http::StatusCode;

#[tokio::test]
async fn health_answers_200_when_the_store_is_reachable() {
    // Arrange
    let app = spawn_app();
    let request = fixture("status.json");

    // Act
    let answer = app.invoke("health", &request).await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let (code, body) = answer.http_output();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["healthy"], true);
}

#[tokio::test]
async fn health_answers_503_naming_the_store_when_the_store_is_unreachable() {
    // Arrange: the store's directory is a file, so every read fails (as a storage account that refuses us would).
    let app = spawn_app();
    let store = app.store_dir();
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&store);
    std::fs::write(&store, "not a directory").unwrap();

    // Act
    let answer = app.invoke("health", &fixture("status.json")).await;

    // Assert: the invocation succeeds; its HTTP output says the instance is unhealthy.
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let (code, body) = answer.http_output();
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["healthy"], false);
    assert!(body["error"].as_str().unwrap().contains("store"), "{body}");
}

#[test]
fn the_health_function_is_anonymous_and_matches_the_function_apps_health_check_path() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let def: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{root}/function-definitions/health/function.json"))
            .unwrap(),
    )
    .unwrap();
    let trigger = &def["bindings"][0];
    assert_eq!(trigger["type"], "httpTrigger");
    assert_eq!(
        trigger["authLevel"], "anonymous",
        "the platform's probe sends no key"
    );
    assert_eq!(trigger["methods"], serde_json::json!(["get"]));
    let tf =
        std::fs::read_to_string(format!("{root}/terraform/orchestrator/main.function.tf")).unwrap();
    let path = tf
        .lines()
        .find_map(|l| l.trim().strip_prefix("health_check_path"))
        .and_then(|l| l.split('"').nth(1))
        .expect("a health_check_path");
    let host: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{root}/host.json")).unwrap())
            .unwrap();
    let prefix = host["extensions"]["http"]["routePrefix"]
        .as_str()
        .unwrap_or("api");
    assert_eq!(
        path,
        format!("/{prefix}/{}", trigger["route"].as_str().unwrap())
    );
}
