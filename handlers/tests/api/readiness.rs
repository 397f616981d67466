//! The host polls `GET /` at start-up: any answer means ready.

use crate::helpers::spawn_app;
use axum::body::Body;
use axum::http::{Request, StatusCode};

#[tokio::test]
async fn the_readiness_poll_is_answered_200() {
    // Arrange
    let app = spawn_app();

    // Act
    let answer = app
        .send(Request::get("/").body(Body::empty()).unwrap())
        .await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}
