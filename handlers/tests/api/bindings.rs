//! The handlers and `function-definitions/*/function.json` agree: every function has a route, and the binding
//! names the handlers read and write are the ones the host is told about.

use crate::helpers::{fixture, spawn_app};
use axum::http::StatusCode;
use nightshift_handlers::functions::{MESSAGE_BINDING, STEPS_BINDING};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const DEFINITIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../function-definitions");

/// What each handler reads and writes: the function, its trigger binding, its output bindings.
const EXPECTED: &[(&str, &str, &[&str])] = &[
    ("release-intake", MESSAGE_BINDING, &[STEPS_BINDING]),
    ("step-dispatch", MESSAGE_BINDING, &[STEPS_BINDING]),
    ("step-events", MESSAGE_BINDING, &[STEPS_BINDING]),
    ("nightly-scheduler", "timer", &[STEPS_BINDING]),
    ("job-watchdog", "timer", &[STEPS_BINDING]),
    ("expiry-sweeper", "timer", &[]),
    ("status", "req", &["res"]),
    ("health", "req", &["res"]),
    ("actions", "req", &["res"]),
    ("notification-retry", MESSAGE_BINDING, &[]),
];

struct Definition {
    function: String,
    trigger: (String, String),
    outputs: BTreeSet<String>,
}

/// Every folder under `function-definitions/`, with its trigger (name, type) and output binding names.
fn definitions() -> Vec<Definition> {
    let mut out: Vec<Definition> = std::fs::read_dir(DEFINITIONS)
        .expect("function-definitions/")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| {
            let function = e.file_name().to_string_lossy().into_owned();
            let path = e.path().join("function.json");
            let doc: Value = serde_json::from_str(
                &std::fs::read_to_string(&path)
                    .unwrap_or_else(|err| panic!("{}: {err}", path.display())),
            )
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            let bindings = doc["bindings"].as_array().expect("a bindings array");
            let field = |b: &Value, k: &str| b[k].as_str().unwrap_or_default().to_string();
            let triggers: Vec<(String, String)> = bindings
                .iter()
                .filter(|b| b["direction"] == "in" && field(b, "type").ends_with("Trigger"))
                .map(|b| (field(b, "name"), field(b, "type")))
                .collect();
            assert_eq!(
                triggers.len(),
                1,
                "{function}: one trigger, got {triggers:?}"
            );
            let outputs = bindings
                .iter()
                .filter(|b| b["direction"] == "out")
                .map(|b| field(b, "name"))
                .collect();
            Definition {
                function,
                trigger: triggers[0].clone(),
                outputs,
            }
        })
        .collect();
    out.sort_by(|a, b| a.function.cmp(&b.function));
    assert!(!out.is_empty(), "no function folder under {DEFINITIONS}");
    out
}

#[tokio::test]
async fn every_function_folder_has_a_route() {
    // Arrange
    let app = spawn_app();
    let empty = json!({ "Data": {}, "Metadata": {} });

    for def in definitions() {
        // Act
        let answer = app.invoke(&def.function, &empty).await;

        // Assert
        assert!(
            !matches!(
                answer.status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ),
            "POST /{} answered {}: no route for the function",
            def.function,
            answer.status
        );
    }
    // The check above can fail: a name without a route is 404.
    let control = app.invoke("no-such-function", &empty).await;
    assert_eq!(control.status, StatusCode::NOT_FOUND);
}

#[test]
fn the_binding_names_the_handlers_use_match_the_function_definitions() {
    // Arrange
    let definitions = definitions();

    // Act
    let on_disk: BTreeSet<&str> = definitions.iter().map(|d| d.function.as_str()).collect();
    let expected: BTreeSet<&str> = EXPECTED.iter().map(|(f, _, _)| *f).collect();

    // Assert
    assert_eq!(on_disk, expected, "function folders vs. handlers");
    for def in &definitions {
        let (_, trigger, outputs) = EXPECTED
            .iter()
            .find(|(f, _, _)| *f == def.function)
            .unwrap();
        assert_eq!(
            def.trigger.0, *trigger,
            "{}: trigger binding name",
            def.function
        );
        let outputs: BTreeSet<String> = outputs.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            def.outputs, outputs,
            "{}: output binding names",
            def.function
        );
    }
}

/// The payload a trigger type brings, from the fixtures (the Service Bus ones per function, so each does work).
fn trigger_payload(function: &str, trigger_type: &str) -> Value {
    let name = match trigger_type {
        "serviceBusTrigger" => format!("{function}.json"),
        "timerTrigger" => "timer.json".into(),
        "httpTrigger" => "status.json".into(),
        other => panic!("{function}: no fixture for a {other}"),
    };
    let envelope = fixture(&name);
    let data = envelope["Data"].as_object().unwrap();
    assert_eq!(data.len(), 1, "{name}: one binding in Data");
    data.values().next().unwrap().clone()
}

#[tokio::test]
async fn each_function_reads_its_declared_trigger_and_writes_only_declared_outputs() {
    // Arrange: the order of a run's life, so the message functions find what they act on.
    let app = spawn_app();
    let definitions = definitions();
    let order = [
        "release-intake",
        "step-dispatch",
        "step-events",
        "status",
        "health",
        "nightly-scheduler",
        "job-watchdog",
        "expiry-sweeper",
        "actions",
        "notification-retry",
    ];
    assert_eq!(order.len(), definitions.len());

    for function in order {
        let def = definitions.iter().find(|d| d.function == function).unwrap();
        let (binding, trigger_type) = &def.trigger;
        let envelope = json!({
            "Data": { binding: trigger_payload(function, trigger_type) },
            "Metadata": { "sys": { "MethodName": function, "UtcNow": "2026-11-21T21:58:04.1934573Z",
                                   "RandGuid": "2b1f7c9e-0d4a-4c61-9a8e-5f3b7d2e1c40" } }
        });

        // Act
        let answer = app.invoke(function, &envelope).await;

        // Assert
        assert_eq!(answer.status, StatusCode::OK, "{function}: {}", answer.text);
        for key in answer.outputs().keys() {
            assert!(
                def.outputs.contains(key),
                "{function} wrote Outputs.{key}, not declared in its function.json ({:?})",
                def.outputs
            );
        }
    }
}
