//! Messages under hostile input (issue 8, defects 5 and 11): repeated JSON keys, unknown fields, attempt 0,
//! unbounded text, and generated bodies whose every accepted instance is checked against the bounds.
//! `NIGHTSHIFT_FUZZ_CASES` sets the number of bodies of each harness.

mod fuzz;

use fuzz::Outcome;
use nightshift_core::json::parse_strict;
use nightshift_core::messages::{
    bounded_text, check_envelope, Release, Request, StepEventMessage, StepMessage, MAX_BODY_BYTES,
    MAX_REQUESTED_BY_CHARS,
};
use nightshift_core::names::{EnvironmentName, ProductName, MAX_DURATION_SECS};
use proptest::prelude::*;
use serde_json::{json, Value};

const RELEASE: &str = r#"{"schema":"nightshift.release/v1","product":"shop","environment":"pr-1","version":"1.4.2","requested_by":"ci","ttl":"3d"}"#;
const STEP: &str =
    r#"{"schema":"nightshift.step/v1","run_id":"shop.pr-1.r1","step":"db","attempt":1}"#;
const EVENT: &str = r#"{"schema":"nightshift.step-event/v1","run_id":"shop.pr-1.r1","step":"db","attempt":1,"outcome":"succeeded","exit_code":0,"outputs":{"a":"b"},"started_at":"2026-11-21T01:00:00Z","finished_at":"2026-11-21T01:01:00Z","log":"logs/shop.pr-1.r1/db/1.log"}"#;

#[test]
fn the_fixtures_of_these_tests_are_valid_messages() {
    Release::decode(RELEASE).unwrap();
    StepMessage::decode(STEP).unwrap();
    StepEventMessage::decode(EVENT).unwrap();
}

#[test]
fn a_repeated_json_key_in_any_message_is_refused_naming_the_key() {
    for (body, key) in [
        (
            RELEASE.replace("\"ttl\":\"3d\"", "\"ttl\":\"3d\",\"ttl\":\"30d\""),
            "ttl",
        ),
        (
            RELEASE.replace("\"product\"", "\"environment\":\"main\",\"product\""),
            "environment",
        ),
        (
            STEP.replace("\"attempt\":1", "\"attempt\":1,\"attempt\":2"),
            "attempt",
        ),
        (EVENT.replace("\"a\":\"b\"", "\"a\":\"b\",\"a\":\"c\""), "a"),
    ] {
        let reason = Release::decode(&body)
            .err()
            .or_else(|| StepMessage::decode(&body).err())
            .or_else(|| StepEventMessage::decode(&body).err())
            .map(|r| r.reason)
            .unwrap();
        // Each body is refused by its own decoder too (the others refuse it for its schema).
        let own = if body.contains("release/v1") {
            Release::decode(&body).unwrap_err().reason
        } else if body.contains("step/v1") {
            StepMessage::decode(&body).unwrap_err().reason
        } else {
            StepEventMessage::decode(&body).unwrap_err().reason
        };
        assert!(
            own.contains(&format!("duplicate key \"{key}\"")),
            "{body}: {own} ({reason})"
        );
    }
}

#[test]
fn requested_by_is_bounded_to_200_characters() {
    let at = |n: usize| RELEASE.replace("\"ci\"", &format!("\"{}\"", "a".repeat(n)));
    assert_eq!(Release::decode(&at(200)).unwrap().requested_by.len(), 200);
    let e = Release::decode(&at(201)).unwrap_err();
    assert!(
        e.reason
            .contains("requested_by is 201 characters long: at most 200"),
        "{e}"
    );
    let e = Release::decode(&RELEASE.replace("\"ci\"", "\"c\\u0000i\"")).unwrap_err();
    assert!(e.reason.contains("control character"), "{e}");
    assert_eq!(bounded_text("f", "  x ", 1).unwrap(), "x");
    assert!(bounded_text("f", " ", 1)
        .unwrap_err()
        .reason
        .contains("f is empty"));
}

#[test]
fn a_step_event_with_attempt_0_or_an_unknown_field_is_refused_with_the_reason() {
    let e = StepEventMessage::decode(&EVENT.replace("\"attempt\":1", "\"attempt\":0")).unwrap_err();
    assert!(e.reason.contains("attempt is 0"), "{e}");
    let e =
        StepEventMessage::decode(&EVENT.replace("\"exit_code\"", "\"exitcode\":1,\"exit_code\""))
            .unwrap_err();
    assert!(e.reason.contains("unknown field `exitcode`"), "{e}");
    let e =
        StepMessage::decode(&STEP.replace("\"attempt\"", "\"extra\":1,\"attempt\"")).unwrap_err();
    assert!(e.reason.contains("unknown field"), "{e}");
}

#[test]
fn every_step_event_field_has_a_bound_and_a_reason() {
    let mut v: Value = serde_json::from_str(EVENT).unwrap();
    for (field, value, needle) in [
        ("attempt", json!(101), "attempt is 101"),
        (
            "reason",
            json!("x".repeat(64 * 1024 + 1)),
            "reason is 65537 characters",
        ),
        ("log", json!("../etc/passwd"), "not a store key"),
        ("log", json!("logs/../../x"), "not a store key"),
        (
            "finished_at",
            json!("2026-11-21T00:00:00Z"),
            "before started_at",
        ),
        ("outputs", json!({"": 1}), "output name"),
    ] {
        let old = v[field].clone();
        v[field] = value;
        let e = StepEventMessage::decode(&v.to_string()).unwrap_err();
        assert!(e.reason.contains(needle), "{field}: {e}");
        v[field] = old;
    }
    let many: serde_json::Map<String, Value> =
        (0..1001).map(|i| (format!("o{i}"), json!(i))).collect();
    v["outputs"] = Value::Object(many);
    assert!(StepEventMessage::decode(&v.to_string())
        .unwrap_err()
        .reason
        .contains("at most 1000"));
}

#[test]
fn an_empty_or_overlong_message_id_and_an_oversized_body_are_refused_with_the_bound() {
    assert!(check_envelope(Some("m-1"), "{}").is_ok());
    assert!(check_envelope(None, "{}")
        .unwrap_err()
        .reason
        .contains("no MessageId"));
    assert!(check_envelope(Some(""), "{}")
        .unwrap_err()
        .reason
        .contains("empty"));
    let long = "x".repeat(300);
    assert!(check_envelope(Some(&long), "{}")
        .unwrap_err()
        .reason
        .contains("300 characters long: at most 128"));
    let big = "x".repeat(MAX_BODY_BYTES + 1);
    assert!(check_envelope(Some("m"), &big)
        .unwrap_err()
        .reason
        .contains("at most 2097152"));
    assert!(Release::decode(&big)
        .unwrap_err()
        .reason
        .contains("at most 2097152"));
}

/// A JSON value that is sometimes the right type, sometimes not.
fn hostile_value(good: impl Strategy<Value = String> + 'static) -> impl Strategy<Value = Value> {
    prop_oneof![
        16 => good.prop_map(Value::String),
        2 => fuzz::hostile_text().prop_map(Value::String),
        1 => prop_oneof![Just(Value::Null), Just(json!(0)), Just(json!(-1)), Just(json!(true)), Just(json!([])), Just(json!({}))],
    ]
}

/// Fields of an object as `(key, value)` pairs, possibly repeated or unknown, rendered by hand so that repeated
/// keys reach the decoder.
fn render(fields: &[(String, Value)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn with_extras(fields: Vec<(String, Value)>) -> impl Strategy<Value = Vec<(String, Value)>> {
    let n = fields.len();
    (
        Just(fields),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec((0..n, any::<bool>(), "[a-z_]{1,10}", fuzz::hostile_text()), 1..3),
        ],
    )
        .prop_map(|(mut fields, extras)| {
            for (i, repeat, name, value) in extras {
                if repeat {
                    let (k, _) = fields[i].clone();
                    fields.push((k, Value::String(value)));
                } else {
                    fields.push((name, Value::String(value)));
                }
            }
            fields
        })
}

fn release_body() -> impl Strategy<Value = String> {
    (
        prop_oneof![9 => Just("nightshift.release/v1".to_string()), 1 => ".{0,20}"],
        hostile_value(prop_oneof![4 => Just("shop".to_string()), 1 => "[a-z][a-z0-9-]{0,30}"]),
        hostile_value(prop_oneof![2 => Just("pr-1".to_string()), 2 => Just("main".to_string()), 1 => "[a-zA-Z][a-z0-9-]{0,34}"]),
        hostile_value(prop_oneof![3 => Just("1.4.2".to_string()), 1 => "[0-9a-z.+-]{1,45}"]),
        hostile_value(prop_oneof![3 => Just("ci".to_string()), 1 => (190usize..210).prop_map(|n| "r".repeat(n))]),
        prop::option::of(hostile_value(fuzz::duration_text())),
    )
        .prop_flat_map(|(schema, product, env, version, by, ttl)| {
            let mut f = vec![
                ("schema".to_string(), Value::String(schema)),
                ("product".to_string(), product),
                ("environment".to_string(), env),
                ("version".to_string(), version),
                ("requested_by".to_string(), by),
            ];
            if let Some(t) = ttl {
                f.push(("ttl".to_string(), t));
            }
            with_extras(f)
        })
        .prop_map(|f| render(&f))
}

const RELEASE_FIELDS: [&str; 11] = [
    "schema",
    "action",
    "product",
    "environment",
    "version",
    "requested_by",
    "ttl",
    "by",
    "until",
    "for",
    "reason",
];

/// What an accepted release guarantees, checked on the body it came from.
fn release_breaks(body: &str, r: &Release) -> Option<String> {
    let Ok(Value::Object(m)) = parse_strict(body) else {
        return Some("accepted a body with a repeated key or not an object".into());
    };
    if let Some(k) = m.keys().find(|k| !RELEASE_FIELDS.contains(&k.as_str())) {
        return Some(format!("accepted the unknown field {k}"));
    }
    if ProductName::parse(r.product.as_str()).is_err()
        || EnvironmentName::parse(r.environment.as_str()).is_err()
    {
        return Some("accepted an invalid name".into());
    }
    let (version, ttl) = match &r.request {
        Request::Deploy { version, ttl, .. } => (version.as_str(), *ttl),
        _ => ("-", None),
    };
    if version.is_empty() || version.len() > 40 {
        return Some("accepted an unbounded version".into());
    }
    let by = r.requested_by.chars().count();
    if by == 0 || by > MAX_REQUESTED_BY_CHARS || r.requested_by.chars().any(char::is_control) {
        return Some("accepted an unbounded requested_by".into());
    }
    if let Some(t) = ttl {
        let secs = t.as_duration().as_secs();
        if secs == 0 || secs > MAX_DURATION_SECS {
            return Some("accepted an unbounded ttl".into());
        }
    }
    None
}

#[test]
fn generated_release_messages_are_refused_or_accepted_within_every_bound() {
    fuzz::run(
        "release messages",
        2000,
        release_body(),
        |body| match Release::decode(body) {
            Ok(r) => release_breaks(body, &r).map_or(Outcome::Accepted, Outcome::Wrong),
            Err(e) if e.reason.is_empty() => Outcome::Wrong("refused without a reason".into()),
            Err(_) => Outcome::Refused,
        },
    );
}

fn step_event_body() -> impl Strategy<Value = String> {
    let time = prop_oneof![
        Just(json!("2026-11-21T01:00:00Z")),
        Just(json!("2026-11-21T01:05:00Z")),
        Just(json!("2026-11-21T00:00:00+01:00")),
        Just(json!("yesterday")),
        Just(json!(1700000000)),
    ];
    (
        hostile_value(prop_oneof![4 => Just("shop.pr-1.r1".to_string()), 1 => "[a-z.-]{0,20}"]),
        hostile_value(prop_oneof![4 => Just("db".to_string()), 1 => "[a-z-]{0,40}"]),
        prop_oneof![6 => Just(json!(1)), 1 => Just(json!(0)), 1 => Just(json!(2)), 1 => Just(json!(101)), 1 => Just(json!(-1)), 1 => Just(json!(4294967296u64)), 1 => Just(json!("1"))],
        prop_oneof![4 => Just(json!("succeeded")), 2 => Just(json!("failed")), 1 => Just(json!("interrupted")), 1 => Just(json!("Succeeded")), 1 => Just(json!(null))],
        prop::option::of(hostile_value(".{0,50}")),
        prop::collection::btree_map(prop_oneof![3 => "[a-z_]{1,12}", 1 => fuzz::hostile_text()], Just(json!("v")), 0..4),
        prop_oneof![4 => Just((json!("2026-11-21T01:00:00Z"), json!("2026-11-21T01:05:00Z"))), 1 => (time.clone(), time)],
        prop::option::of(hostile_value(prop_oneof![4 => Just("logs/shop.pr-1.r1/db/1.log".to_string()), 1 => Just("logs/../x".to_string()), 1 => ".{0,20}"])),
    )
        .prop_flat_map(|(run, step, attempt, outcome, reason, outputs, (start, end), log)| {
            let mut f = vec![
                ("schema".to_string(), json!("nightshift.step-event/v1")),
                ("run_id".to_string(), run),
                ("step".to_string(), step),
                ("attempt".to_string(), attempt),
                ("outcome".to_string(), outcome),
                ("outputs".to_string(), Value::Object(outputs.into_iter().collect())),
                ("started_at".to_string(), start),
                ("finished_at".to_string(), end),
            ];
            if let Some(r) = reason {
                f.push(("reason".to_string(), r));
            }
            if let Some(l) = log {
                f.push(("log".to_string(), l));
            }
            with_extras(f)
        })
        .prop_map(|f| render(&f))
}

const EVENT_FIELDS: [&str; 11] = [
    "schema",
    "run_id",
    "step",
    "attempt",
    "outcome",
    "exit_code",
    "reason",
    "permanent",
    "outputs",
    "started_at",
    "finished_at",
];

#[test]
fn generated_step_events_are_refused_or_accepted_within_every_bound() {
    fuzz::run(
        "step events",
        2000,
        step_event_body(),
        |body| match StepEventMessage::decode(body) {
            Ok(m) => {
                let Ok(Value::Object(obj)) = parse_strict(body) else {
                    return Outcome::Wrong("accepted a repeated key".into());
                };
                if let Some(k) = obj
                    .keys()
                    .find(|k| !EVENT_FIELDS.contains(&k.as_str()) && *k != "log")
                {
                    return Outcome::Wrong(format!("accepted the unknown field {k}"));
                }
                if m.attempt == 0 || m.finished_at < m.started_at || m.check_bounds().is_err() {
                    return Outcome::Wrong("accepted out of bounds".into());
                }
                if m.log
                    .as_deref()
                    .is_some_and(|l| l.contains("..") || !l.starts_with("logs/"))
                {
                    return Outcome::Wrong("accepted a log key outside logs/".into());
                }
                Outcome::Accepted
            }
            Err(e) if e.reason.is_empty() => Outcome::Wrong("refused without a reason".into()),
            Err(_) => Outcome::Refused,
        },
    );
}
