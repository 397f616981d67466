//! `status` (HTTP trigger, forwarding off): runs and environments as JSON in `Outputs.res`.

use crate::helpers::{fixture, spawn_app, status_request, FIXTURE_RUN_ID};
use axum::http::StatusCode;

#[tokio::test]
async fn status_answers_an_http_output_with_all_four_fields_listing_the_runs() {
    // Arrange
    let app = spawn_app();
    app.release_fixture_run().await;

    // Act
    let answer = app.invoke("status", &fixture("status.json")).await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let res = answer.outputs()["res"].as_object().expect("an object");
    for field in ["statusCode", "status", "body", "headers"] {
        assert!(res.contains_key(field), "res lacks {field}: {res:?}");
    }
    assert_eq!(res["headers"]["Content-Type"], "application/json");
    let (code, body) = answer.http_output();
    assert_eq!(code, 200);
    let runs = body["runs"].as_array().expect("a runs list");
    assert_eq!(runs.len(), 1, "{body}");
    assert_eq!(runs[0]["id"], FIXTURE_RUN_ID);
    assert_eq!(runs[0]["status"], "running");
}

#[tokio::test]
async fn status_of_one_run_answers_that_run() {
    // Arrange
    let app = spawn_app();
    app.release_fixture_run().await;
    let request = status_request("status.json", &format!("runs/{FIXTURE_RUN_ID}"));

    // Act
    let answer = app.invoke("status", &request).await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let (code, body) = answer.http_output();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["id"], FIXTURE_RUN_ID);
    assert_eq!(body["steps"].as_array().map(Vec::len), Some(2), "{body}");
}

#[tokio::test]
async fn status_of_an_unknown_run_answers_404_in_the_http_output() {
    // Arrange
    let app = spawn_app();
    let request = status_request("status.json", "runs/demo.pr-42.r9-9-9-00000000");

    // Act
    let answer = app.invoke("status", &request).await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let (code, body) = answer.http_output();
    assert_eq!(code, 404, "{body}");
    assert_eq!(answer.outputs()["res"]["status"], 404);
    assert!(body["error"].as_str().unwrap().contains("no run"), "{body}");
}

#[tokio::test]
async fn status_accepts_the_query_as_a_json_string_from_older_hosts() {
    // Arrange
    let app = spawn_app();
    app.release_fixture_run().await;
    let legacy = fixture("status-legacy-query.json");
    assert!(
        legacy["Data"]["req"]["Query"].is_string(),
        "the fixture's point"
    );

    // Act
    let answer = app.invoke("status", &legacy).await;

    // Assert
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let (code, body) = answer.http_output();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["id"], FIXTURE_RUN_ID);
}

#[test]
fn both_query_forms_decode_to_the_same_query() {
    // Arrange
    let decode = |name: &str| -> nightshift_handlers::invocation::HttpRequest {
        let req: nightshift_handlers::invocation::InvocationRequest =
            serde_json::from_value(fixture(name)).unwrap();
        req.http_request("req").unwrap()
    };

    // Act
    let (modern, legacy) = (decode("status.json"), decode("status-legacy-query.json"));

    // Assert
    let expected = vec![("verbose".to_string(), "true".to_string())];
    assert_eq!(modern.query, expected);
    assert_eq!(legacy.query, expected);
    assert_eq!(modern.method, "GET");
}
