//! The edges of the queue functions (issue 8, defect 11): message ids the store cannot hold as they are, bodies
//! past the size bound, step events out of bounds. Each is a recorded rejection (200, visible in `status`), never a
//! 500 that the host retries until the message is dead-lettered, and never a 413 with no record.

use crate::helpers::{fixture, message_body, spawn_app, with_message, TestApp};
use axum::http::StatusCode;
use serde_json::Value;

async fn rejected(app: &TestApp) -> Vec<Value> {
    app.status_report().await["rejected"]
        .as_array()
        .expect("a rejected list")
        .clone()
}

fn reason_for<'a>(records: &'a [Value], id: &str) -> &'a str {
    records
        .iter()
        .find(|r| r["message_id"] == id)
        .and_then(|r| r["reason"].as_str())
        .unwrap_or_else(|| panic!("no rejection recorded for {id:?} in {records:?}"))
}

#[tokio::test]
async fn an_empty_or_300_character_message_id_is_a_recorded_rejection_not_a_500() {
    // Arrange
    let app = spawn_app();
    let envelope = fixture("release-intake.json");
    let body = message_body(&envelope).to_string();
    let long = "m".repeat(300);

    for id in ["", long.as_str()] {
        // Act
        let answer = app
            .invoke("release-intake", &with_message(&envelope, &body, id))
            .await;

        // Assert
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert!(answer.outputs().is_empty(), "{}", answer.text);
    }
    assert!(app.stored_runs().is_empty(), "{:?}", app.stored_runs());
    let records = rejected(&app).await;
    assert!(reason_for(&records, "").contains("MessageId is empty"));
    assert!(reason_for(&records, &long).contains("300 characters long: at most 128"));
}

#[tokio::test]
async fn message_ids_that_differ_only_in_characters_a_key_cannot_hold_get_their_own_records() {
    // Arrange
    let app = spawn_app();
    let envelope = fixture("release-intake.json");
    let mut bad = message_body(&envelope);
    bad["product"] = "nosuch".into();
    let bad = bad.to_string();

    // Act
    for id in ["id/with/slash", "id_with_slash", "id.with.slash"] {
        let answer = app
            .invoke("release-intake", &with_message(&envelope, &bad, id))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }

    // Assert
    let records = rejected(&app).await;
    for id in ["id/with/slash", "id_with_slash", "id.with.slash"] {
        assert!(reason_for(&records, id).contains("unknown product"));
    }
    assert_eq!(records.len(), 3, "{records:?}");
}

#[tokio::test]
async fn a_body_over_2_mib_is_a_recorded_rejection_with_the_bound_not_a_413() {
    // Arrange
    let app = spawn_app();
    let envelope = fixture("release-intake.json");
    let mut body = message_body(&envelope);
    body["requested_by"] = "x".repeat(3 * 1024 * 1024).into();

    // Act
    let answer = app
        .invoke(
            "release-intake",
            &with_message(&envelope, &body.to_string(), "huge-1"),
        )
        .await;

    // Assert
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{}",
        &answer.text[..200.min(answer.text.len())]
    );
    let records = rejected(&app).await;
    assert!(reason_for(&records, "huge-1").contains("at most 2097152 (2 MiB)"));
}

#[tokio::test]
async fn a_requested_by_over_200_characters_is_refused_with_the_bound() {
    let app = spawn_app();
    let envelope = fixture("release-intake.json");
    let mut body = message_body(&envelope);
    body["requested_by"] = "p".repeat(201).into();

    let answer = app
        .invoke(
            "release-intake",
            &with_message(&envelope, &body.to_string(), "long-by"),
        )
        .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(app.stored_runs().is_empty());
    let records = rejected(&app).await;
    assert!(reason_for(&records, "long-by").contains("requested_by is 201 characters long"));
}

#[tokio::test]
async fn a_step_event_with_attempt_0_an_unknown_field_or_a_repeated_key_is_a_recorded_rejection() {
    // Arrange
    let app = spawn_app();
    app.release_fixture_run().await;
    let envelope = fixture("step-events.json");
    let good = message_body(&envelope);
    let mut zero = good.clone();
    zero["attempt"] = 0.into();
    let mut unknown = good.clone();
    unknown["exitcode"] = 1.into();
    let repeated = good
        .to_string()
        .replacen("\"attempt\":1", "\"attempt\":1,\"attempt\":2", 1);
    assert!(repeated.contains("\"attempt\":2"), "{repeated}");

    for (id, body) in [
        ("zero", zero.to_string()),
        ("unknown", unknown.to_string()),
        ("repeated", repeated),
    ] {
        // Act
        let answer = app
            .invoke("step-events", &with_message(&envelope, &body, id))
            .await;
        // Assert
        assert_eq!(answer.status, StatusCode::OK, "{id}: {}", answer.text);
        assert!(answer.steps().is_empty(), "{id}: {}", answer.text);
    }
    let records = rejected(&app).await;
    assert!(reason_for(&records, "zero").contains("attempt is 0"));
    assert!(reason_for(&records, "unknown").contains("unknown field `exitcode`"));
    assert!(reason_for(&records, "repeated").contains("duplicate key \"attempt\""));
}

#[tokio::test]
async fn a_step_dispatch_with_an_empty_message_id_is_a_recorded_rejection() {
    let app = spawn_app();
    let envelope = fixture("step-dispatch.json");
    let body = message_body(&envelope).to_string();

    let answer = app
        .invoke("step-dispatch", &with_message(&envelope, &body, ""))
        .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(app.job_count(), 0);
    let records = rejected(&app).await;
    assert!(reason_for(&records, "").contains("MessageId is empty"));
}
