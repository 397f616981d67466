//! Hostile invocations (issue 8, "fuzzing and property tests to keep"): envelopes as the Functions host might
//! garble them (bindings missing or of the wrong type, bodies encoded zero to three times, message ids empty, long,
//! of the wrong type), with message bodies that are valid, almost valid or noise, sent through the real router.
//!
//! Any panic, any 500 (which the host would retry until the message is dead-lettered) and any 413 fails the test;
//! so does a step dispatch sent for a message that can never succeed (a wrong accept), and a message that can
//! never succeed acknowledged without its rejection on record.
//! `NIGHTSHIFT_FUZZ_CASES` sets the number of invocations.

#[path = "../../../crates/core/tests/fuzz/mod.rs"]
mod fuzz;

use crate::helpers::{fixture, message_body, spawn_app};
use axum::http::StatusCode;
use fuzz::Outcome;
use nightshift_app::repo::{action_key, rejection_key};
use nightshift_core::messages::{check_envelope, Release, StepEventMessage, StepMessage};
use nightshift_handlers::invocation::InvocationRequest;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone)]
struct Invocation {
    function: &'static str,
    envelope: Value,
}

/// A message body for `function`: its fixture, one field replaced by something hostile, or noise.
fn body(function: &'static str) -> impl Strategy<Value = String> {
    let fixture_name = match function {
        "release-intake" => "release-intake.json",
        "step-events" => "step-events.json",
        _ => "step-dispatch.json",
    };
    let good = message_body(&fixture(fixture_name));
    let keys: Vec<String> = good.as_object().unwrap().keys().cloned().collect();
    let hostile = prop_oneof![
        fuzz::hostile_text().prop_map(Value::String),
        Just(Value::Null),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1e308)),
        Just(json!([])),
        Just(json!({"a": {"b": []}})),
    ];
    prop_oneof![
        8 => Just(good.to_string()),
        4 => (prop::sample::select(keys.clone()), hostile.clone()).prop_map({
            let good = good.clone();
            move |(k, v)| {
                let mut b = good.clone();
                b[&k] = v;
                b.to_string()
            }
        }),
        1 => prop::sample::select(keys).prop_map({
            let good = good.clone();
            move |k| {
                let text = good.to_string();
                let field = format!("\"{k}\":");
                text.replacen(&field, &format!("{field}null,{field}"), 1)
            }
        }),
        1 => ".{0,60}",
        1 => Just("{\"schema\":".to_string()),
        1 => (1usize..200).prop_map(|n| "[".repeat(n)),
    ]
}

fn encode(body: &str, times: usize) -> Value {
    let mut v = Value::String(body.to_string());
    for _ in 1..times {
        v = Value::String(v.to_string());
    }
    v
}

fn invocation() -> impl Strategy<Value = Invocation> {
    let function = prop::sample::select(vec!["release-intake", "step-events", "step-dispatch"]);
    function.prop_flat_map(|function| {
        let data = prop_oneof![
            12 => (body(function), 1usize..4).prop_map(|(b, times)| json!({ "message": encode(&b, times) })),
            1 => body(function).prop_map(|b| json!({ "message": serde_json::from_str::<Value>(&b).unwrap_or(Value::Null) })),
            1 => Just(json!({})),
            1 => Just(json!({ "message": 42 })),
            1 => Just(json!({ "other": "x" })),
        ];
        let message_id = prop_oneof![
            12 => "[a-f0-9]{32}".prop_map(|id| Value::String(Value::String(id).to_string())),
            1 => Just(Value::String("\"\"".into())),
            1 => Just(Value::String(String::new())),
            1 => (100usize..400).prop_map(|n| Value::String("m".repeat(n))),
            1 => fuzz::hostile_text().prop_map(Value::String),
            1 => Just(json!(17)),
            1 => Just(Value::Null),
            1 => Just(json!({"a": 1})),
        ];
        let shape = 0..10u8;
        (data, prop::option::weighted(0.9, message_id), shape).prop_map(move |(data, id, shape)| {
            let mut meta = json!({ "DeliveryCount": "1" });
            if let Some(id) = id {
                meta["MessageId"] = id;
            }
            let envelope = match shape {
                0 => json!([data]),
                1 => json!({ "Data": data }),
                2 => json!({ "Data": "x", "Metadata": meta }),
                _ => json!({ "Data": data, "Metadata": meta }),
            };
            Invocation { function, envelope }
        })
    })
}

/// The message as the handler reads it, if the envelope has one: `(queue, message id, body)`.
fn read_message(inv: &Invocation) -> Option<(&'static str, Option<String>, String)> {
    // The body as the host's contract gives it (a JSON string, possibly encoded again, or an object some hosts
    // hand over already parsed): the same reading the handler does.
    let req = serde_json::from_value::<InvocationRequest>(inv.envelope.clone()).ok()?;
    let body = req.message_body("message").ok()?;
    let queue = match inv.function {
        "release-intake" => "releases",
        "step-events" => "step-events",
        _ => "steps",
    };
    Some((queue, req.meta("MessageId"), body))
}

/// Whether the message inside could ever succeed: a usable id, and a body its function decodes.
fn valid_message(inv: &Invocation) -> bool {
    let Some((_, id, body)) = read_message(inv) else {
        return false;
    };
    check_envelope(id.as_deref(), &body).is_ok()
        && match inv.function {
            "release-intake" => Release::decode(&body).is_ok(),
            "step-events" => StepEventMessage::decode(&body).is_ok(),
            _ => StepMessage::decode(&body).is_ok(),
        }
}

#[test]
fn hostile_invocations_never_panic_never_answer_500_or_413_and_dispatch_only_valid_messages() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let app = Arc::new(spawn_app());
    let app_dir = app.store_dir();
    let records_checked = AtomicUsize::new(0);
    fuzz::run("invocation bodies", 300, invocation(), |inv| {
        // The action journal's keys before this case: what a repeated MessageId finds handled already.
        let journaled_before: std::collections::BTreeSet<String> =
            std::fs::read_dir(app_dir.join("actions"))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .map(|e| format!("actions/{}", e.file_name().to_string_lossy()))
                        .collect()
                })
                .unwrap_or_default();
        let app = app.clone();
        let sent = inv.clone();
        let answer = rt.block_on(async move {
            tokio::spawn(async move { app.invoke(sent.function, &sent.envelope).await }).await
        });
        let answer = match answer {
            Ok(a) => a,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Outcome::Wrong(format!("the invocation did not finish: {e}")),
        };
        match answer.status {
            StatusCode::INTERNAL_SERVER_ERROR | StatusCode::PAYLOAD_TOO_LARGE => {
                Outcome::Wrong(format!("answered {}: {}", answer.status, answer.text))
            }
            StatusCode::OK => {
                let dispatched = answer.json["Outputs"]
                    .get("steps")
                    .and_then(Value::as_array)
                    .is_some_and(|s| !s.is_empty());
                let valid = valid_message(inv);
                if dispatched && !valid {
                    return Outcome::Wrong(
                        "dispatched steps for a message that can never succeed".into(),
                    );
                }
                // Acknowledged (200) although it can never succeed: its rejection must be on record.
                if let (false, Some((queue, id, body))) = (valid, read_message(inv)) {
                    let key = rejection_key(queue, id.as_deref().unwrap_or_default(), &body);
                    // On `releases` the MessageId is the idempotency key (as Service Bus duplicate detection has
                    // it): a message whose id was handled before is a repeat, answered from the action journal.
                    let handled_before = queue == "releases"
                        && id
                            .as_deref()
                            .is_some_and(|id| journaled_before.contains(&action_key(id)));
                    if !handled_before && !app_dir.join(&key).exists() {
                        return Outcome::Wrong(format!(
                            "acknowledged with no rejection record {key}"
                        ));
                    }
                    records_checked.fetch_add(1, Ordering::Relaxed);
                }
                if valid {
                    Outcome::Accepted
                } else {
                    Outcome::Refused
                }
            }
            _ => Outcome::Refused,
        }
    });
    // The generator must reach acknowledged rejections, or that check proves nothing.
    assert!(records_checked.into_inner() > 0);
}
