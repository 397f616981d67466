//! The real network path: `serve` on a loopback port, a real HTTP client.

use crate::helpers::{fixture, spawn_app, FIXTURE_RUN_ID};
use std::time::Duration;

#[tokio::test]
async fn the_handler_answers_over_a_real_socket() {
    // Arrange
    let app = spawn_app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(nightshift_handlers::serve(app.app.clone(), listener));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .unwrap();

    // Act
    let ready = client.get(format!("{base}/")).send().await.unwrap();
    let invoked = client
        .post(format!("{base}/release-intake"))
        .json(&fixture("release-intake.json"))
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(ready.status(), 200);
    assert_eq!(invoked.status(), 200);
    let body: serde_json::Value = invoked.json().await.unwrap();
    let steps = body["Outputs"]["steps"].as_array().expect("steps output");
    assert_eq!(steps.len(), 1, "{body}");
    assert!(app.run_document(FIXTURE_RUN_ID).is_some());
    server.abort();
}
