//! docs/messages.md is tested: every message example in it is validated against the JSON Schema in the repository
//! (docs/schemas/release-message.v1.json) and decoded by the handler's decoder, and the two agree with the doc:
//! examples marked `accepted` pass both, examples marked `rejected` fail both (unknown fields among them).

use nightshift_core::messages::{Release, ReleaseAction, ReleaseMessage};
use serde_json::Value;
use std::collections::BTreeSet;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn schema() -> Value {
    serde_json::from_str(&read("docs/schemas/release-message.v1.json")).expect("the schema is JSON")
}

/// `(info string, body)` of every fenced block whose info string starts with `json`.
fn json_blocks(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in doc.lines() {
        match (&mut current, line.trim_start().strip_prefix("```")) {
            (None, Some(info)) if info.starts_with("json") => {
                current = Some((info.trim().to_string(), String::new()))
            }
            (Some(_), Some(_)) => out.push(current.take().unwrap()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_message_example_in_the_doc_is_judged_alike_by_the_schema_and_the_decoder() {
    let validator = jsonschema::validator_for(&schema()).expect("a valid JSON Schema");
    let blocks = json_blocks(&read("docs/messages.md"));
    let examples: Vec<&(String, String)> = blocks
        .iter()
        .filter(|(info, _)| info == "json accepted" || info == "json rejected")
        .collect();
    assert!(
        examples.len() >= 15,
        "the doc shows its examples: {}",
        examples.len()
    );
    let mut actions_shown = BTreeSet::new();
    for (info, body) in examples {
        let want_ok = info == "json accepted";
        let instance: Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}):\n{body}"));
        let schema_errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        let decoded = Release::decode(body);
        assert_eq!(
            schema_errors.is_empty(),
            want_ok,
            "the schema disagrees with the doc on:\n{body}\n{schema_errors:?}"
        );
        assert_eq!(
            decoded.is_ok(),
            want_ok,
            "the decoder disagrees with the doc on:\n{body}\n{decoded:?}"
        );
        if let Ok(r) = decoded {
            actions_shown.insert(r.action().as_str());
        }
    }
    assert_eq!(
        actions_shown,
        BTreeSet::from(["close", "deploy", "destroy", "extend", "keep"]),
        "every action has an accepted example"
    );
}

#[test]
fn unknown_fields_are_rejected_by_the_schema_and_by_the_decoder() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let base = r#"{"schema":"nightshift.release/v1","action":"close","product":"shop","environment":"pr-7","requested_by":"ci""#;
    for extra in [
        r#","colour":"red""#,
        r#","Action":"close""#,
        r#","ttl ":"1d""#,
    ] {
        let body = format!("{base}{extra}}}");
        let instance: Value = serde_json::from_str(&body).unwrap();
        assert!(!validator.is_valid(&instance), "schema accepted {body}");
        let e = Release::decode(&body).unwrap_err();
        assert!(e.reason.contains("unknown field"), "{body}: {e}");
    }
    let ok = format!("{base}}}");
    assert!(validator.is_valid(&serde_json::from_str(&ok).unwrap()));
    assert!(Release::decode(&ok).is_ok());
}

#[test]
fn the_schema_names_exactly_the_decoders_fields_and_actions() {
    let schema = schema();
    let in_schema: BTreeSet<String> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut all = ReleaseMessage::new(ReleaseAction::Deploy, "shop", "pr-7", "ci");
    for field in [
        &mut all.version,
        &mut all.ttl,
        &mut all.commit_time,
        &mut all.by,
        &mut all.until,
        &mut all.for_,
        &mut all.reason,
    ] {
        *field = Some("x".into());
    }
    let in_decoder: BTreeSet<String> = serde_json::to_value(&all)
        .unwrap()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(in_schema, in_decoder);
    let actions: BTreeSet<String> = schema["properties"]["action"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let decoder_actions: BTreeSet<String> = [
        ReleaseAction::Deploy,
        ReleaseAction::Close,
        ReleaseAction::Destroy,
        ReleaseAction::Extend,
        ReleaseAction::Keep,
    ]
    .iter()
    .map(|a| {
        serde_json::to_value(a)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    })
    .collect();
    assert_eq!(actions, decoder_actions);
}
