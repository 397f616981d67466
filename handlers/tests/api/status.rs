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

/// The fixture release for another environment, with its own message id.
fn release_for(env: &str) -> serde_json::Value {
    let mut r = fixture("release-intake.json");
    let body = r["Data"]["message"].as_str().unwrap().replace("pr-42", env);
    r["Data"]["message"] = serde_json::Value::String(body);
    r["Metadata"]["MessageId"] = serde_json::Value::String(format!("\"m-{env}\""));
    r
}

fn with_query(query: &[(&str, &str)]) -> serde_json::Value {
    let mut r = fixture("status.json");
    let q: serde_json::Map<String, serde_json::Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
        .collect();
    r["Data"]["req"]["Query"] = serde_json::Value::Object(q.clone());
    r["Metadata"]["Query"] = serde_json::Value::Object(q);
    r
}

#[tokio::test]
async fn status_pages_its_runs_with_limit_and_cursor_from_the_query_string() {
    // Arrange: three runs.
    let app = spawn_app();
    for env in ["pr-1", "pr-2", "pr-3"] {
        let answer = app.invoke("release-intake", &release_for(env)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }

    // Act
    let (code, first) = app
        .invoke("status", &with_query(&[("limit", "2")]))
        .await
        .http_output();
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (_, second) = app
        .invoke(
            "status",
            &with_query(&[("limit", "2"), ("cursor", &cursor)]),
        )
        .await
        .http_output();
    let (bad_limit, why) = app
        .invoke("status", &with_query(&[("limit", "0")]))
        .await
        .http_output();
    let (bad_cursor, _) = app
        .invoke("status", &with_query(&[("cursor", "nonsense")]))
        .await
        .http_output();

    // Assert
    assert_eq!(code, 200);
    assert_eq!(first["runs"].as_array().unwrap().len(), 2, "{first}");
    assert_eq!(second["runs"].as_array().unwrap().len(), 1, "{second}");
    assert!(second["next_cursor"].is_null());
    assert_eq!(bad_limit, 400);
    assert!(why["error"].as_str().unwrap().contains("limit"), "{why}");
    assert_eq!(
        bad_cursor, 400,
        "a cursor status never gave is the caller's mistake"
    );
}
