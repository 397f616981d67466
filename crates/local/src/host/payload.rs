//! The custom handler's wire format, quirks included (see the reference on the custom handler protocol): the
//! invocation bodies the host POSTs for each trigger, and the reading of the handler's answer.

use crate::queue::Received;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Seconds with seven fractional digits, as .NET's round-trip format writes them.
fn dotnet(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

/// .NET's round-trip format in UTC with a `Z`, as in `sys.UtcNow`.
pub fn utc_z(t: DateTime<Utc>) -> String {
    dotnet(t) + "Z"
}

/// A `*Utc` metadata time: no offset at all.
pub fn utc_no_offset(t: DateTime<Utc>) -> String {
    dotnet(t)
}

/// A `DateTimeOffset` as the timer's schedule status carries it.
pub fn with_offset(t: DateTime<Utc>) -> String {
    dotnet(t) + "+00:00"
}

/// A metadata string value: JSON-encoded once more, embedded quotes and all.
fn quoted(s: &str) -> Value {
    Value::String(Value::String(s.to_string()).to_string())
}

fn sys(function: &str, now: DateTime<Utc>, rand_guid: &str) -> Value {
    json!({"MethodName": function, "UtcNow": utc_z(now), "RandGuid": rand_guid})
}

/// `ScheduleStatus` of a timer that has run before in this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleStatus {
    pub last: DateTime<Utc>,
    pub next: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
}

/// `{"Data": {<binding>: {"Schedule", "ScheduleStatus", "IsPastDue"}}, "Metadata": {"sys"}}`.
pub fn timer_request(
    function: &str,
    binding: &str,
    status: Option<ScheduleStatus>,
    now: DateTime<Utc>,
    rand_guid: &str,
) -> Value {
    let status = status.map_or(Value::Null, |s| {
        json!({"Last": with_offset(s.last), "Next": with_offset(s.next), "LastUpdated": with_offset(s.last_updated)})
    });
    json!({
        "Data": {binding: {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": status, "IsPastDue": false}},
        "Metadata": {"sys": sys(function, now, rand_guid)},
    })
}

/// A Service Bus trigger invocation: the body as a JSON string (JSON text inside), string metadata quoted once more,
/// numbers as strings, times without offset, and a JSON body's top-level properties repeated in the metadata.
pub fn service_bus_request(
    function: &str,
    binding: &str,
    m: &Received,
    now: DateTime<Utc>,
    rand_guid: &str,
) -> Value {
    let mut meta = Map::new();
    if let Ok(Value::Object(props)) = serde_json::from_str::<Value>(&m.body) {
        for (k, v) in props {
            let v = match v {
                Value::String(s) => quoted(&s),
                other => Value::String(other.to_string()),
            };
            meta.insert(k, v);
        }
    }
    let fixed = [
        ("DeliveryCount", Value::String(m.delivery_count.to_string())),
        ("MessageId", quoted(&m.message_id)),
        (
            "CorrelationId",
            m.correlation_id.as_deref().map_or(Value::Null, quoted),
        ),
        ("ContentType", Value::Null),
        ("Subject", Value::Null),
        ("Label", Value::Null),
        ("ApplicationProperties", json!({})),
        ("UserProperties", json!({})),
        (
            "EnqueuedTimeUtc",
            Value::String(utc_no_offset(m.enqueued_at)),
        ),
        (
            "ExpiresAtUtc",
            Value::String("9999-12-31T23:59:59.9999999".into()),
        ),
        (
            "SequenceNumber",
            Value::String(m.sequence_number.to_string()),
        ),
        ("LockToken", quoted(&m.lock_token)),
        ("SessionId", Value::Null),
        ("ReplyTo", Value::Null),
        ("To", Value::Null),
        ("DeadLetterSource", Value::Null),
        ("sys", sys(function, now, rand_guid)),
    ];
    for (k, v) in fixed {
        meta.insert(k.to_string(), v);
    }
    json!({"Data": {binding: Value::String(m.body.clone())}, "Metadata": meta})
}

/// An HTTP request as the host hands it to a non-forwarded HTTP trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    /// The full URL the client asked for.
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// `Data.<binding> = {Url, Method, Query, Headers, Params, Identities, Body}`; header values are arrays of strings.
pub fn http_request(
    function: &str,
    binding: &str,
    req: &HttpRequest,
    params: &BTreeMap<String, String>,
    now: DateTime<Utc>,
    rand_guid: &str,
) -> Value {
    let query: Map<String, Value> = req
        .query
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut headers: Map<String, Value> = Map::new();
    for (k, v) in &req.headers {
        let entry = headers.entry(k.clone()).or_insert_with(|| json!([]));
        if let Value::Array(values) = entry {
            values.push(Value::String(v.clone()));
        }
    }
    let mut meta = Map::new();
    for (k, v) in params {
        meta.insert(k.clone(), Value::String(v.clone()));
    }
    meta.insert("Query".into(), Value::Object(query.clone()));
    meta.insert("Headers".into(), Value::Object(headers.clone()));
    meta.insert("sys".into(), sys(function, now, rand_guid));
    json!({
        "Data": {binding: {
            "Url": req.url,
            "Method": req.method.to_ascii_uppercase(),
            "Query": query,
            "Headers": headers,
            "Params": params,
            "Identities": [],
            "Body": req.body,
        }},
        "Metadata": meta,
    })
}

/// The handler's answer: `{"Outputs", "Logs", "ReturnValue"}`, each optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvocationResponse {
    pub outputs: Map<String, Value>,
    pub logs: Vec<String>,
    pub return_value: Value,
}

impl InvocationResponse {
    /// Reads a 2xx answer's body; an empty or non-JSON body has no outputs.
    pub fn parse(body: &[u8]) -> Self {
        let Ok(Value::Object(mut v)) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let outputs = match v.remove("Outputs") {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        };
        let logs = match v.remove("Logs") {
            Some(Value::Array(lines)) => lines
                .into_iter()
                .map(|l| match l {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        };
        Self {
            outputs,
            logs,
            return_value: v.remove("ReturnValue").unwrap_or(Value::Null),
        }
    }
}

/// Message bodies from a Service Bus output value: a string is one message, an array several (strings as they
/// are, other JSON serialized), null none, any other JSON one serialized message.
pub fn output_messages(value: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match value {
        Value::Null => Vec::new(),
        Value::Array(items) => items.iter().filter(|v| !v.is_null()).map(one).collect(),
        other => vec![one(other)],
    }
}

/// True when the real host would take this string output for base64 and send the decoded bytes instead.
pub fn looks_like_base64(s: &str) -> bool {
    !s.is_empty()
        && (s.len() & 3) == 0
        && s.trim_end_matches('=')
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
        && s.len() - s.trim_end_matches('=').len() <= 2
}

/// An HTTP output binding's value, as the host would send it to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl HttpResponse {
    /// Reads `{"statusCode" | "status", "headers", "body"}`; a status may be a number or a string.
    pub fn from_output(value: Option<&Value>) -> Self {
        let Some(Value::Object(o)) = value else {
            return Self {
                status: 204,
                headers: BTreeMap::new(),
                body: String::new(),
            };
        };
        let status = ["statusCode", "status"]
            .iter()
            .filter_map(|k| o.get(*k))
            .find_map(|v| match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            })
            .and_then(|n| u16::try_from(n).ok())
            .unwrap_or(200);
        let headers = match o.get("headers") {
            Some(Value::Object(h)) => h
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        let body = match o.get("body") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        Self {
            status,
            headers,
            body,
        }
    }
}

/// Matches a path (without the route prefix) against a route template such as `status/{*path}` or
/// `runs/{id}/{step?}`; constraints (`{id:int}`) are accepted and not checked. Gives the route parameters.
pub fn match_route(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let mut params = BTreeMap::new();
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let parts: Vec<&str> = template
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut i = 0;
    for part in &parts {
        if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let name = inner.split(':').next().unwrap_or_default();
            if let Some(rest) = name.strip_prefix('*') {
                params.insert(
                    rest.trim_end_matches('?').to_string(),
                    segments[i.min(segments.len())..].join("/"),
                );
                return Some(params);
            }
            let optional = name.ends_with('?');
            match segments.get(i) {
                Some(seg) => {
                    params.insert(name.trim_end_matches('?').to_string(), (*seg).to_string());
                    i += 1;
                }
                None if optional => {}
                None => return None,
            }
        } else if segments
            .get(i)
            .is_some_and(|seg| seg.eq_ignore_ascii_case(part))
        {
            i += 1;
        } else {
            return None;
        }
    }
    (i == segments.len()).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received() -> Received {
        Received {
            body: r#"{"run":"r1","attempt":2}"#.into(),
            message_id: "m-1".into(),
            correlation_id: Some("c-1".into()),
            delivery_count: 1,
            enqueued_at: "2030-01-01T00:00:00.5Z".parse().unwrap(),
            sequence_number: 7,
            lock_token: "tok".into(),
            locked_until: "2030-01-01T00:05:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn a_service_bus_body_arrives_as_a_json_string_with_quoted_metadata() {
        let now = "2030-01-01T00:00:01Z".parse().unwrap();
        let v = service_bus_request("step-dispatch", "message", &received(), now, "g");
        let text = v.to_string();
        assert!(
            text.contains(r#""message":"{\"run\":\"r1\",\"attempt\":2}""#),
            "{text}"
        );
        assert!(text.contains(r#""MessageId":"\"m-1\"""#), "{text}");
        assert_eq!(v["Metadata"]["DeliveryCount"], "1");
        assert_eq!(v["Metadata"]["SequenceNumber"], "7");
        assert_eq!(
            v["Metadata"]["EnqueuedTimeUtc"],
            "2030-01-01T00:00:00.5000000"
        );
        assert_eq!(v["Metadata"]["run"], "\"r1\"");
        assert_eq!(v["Metadata"]["attempt"], "2");
        assert_eq!(
            v["Metadata"]["sys"]["UtcNow"],
            "2030-01-01T00:00:01.0000000Z"
        );
        assert_eq!(v["Metadata"]["sys"]["MethodName"], "step-dispatch");
    }

    #[test]
    fn output_values_become_message_bodies() {
        assert_eq!(output_messages(&json!("one")), vec!["one"]);
        assert_eq!(
            output_messages(&json!(["a", {"b": 1}, null])),
            vec!["a", r#"{"b":1}"#]
        );
        assert!(output_messages(&Value::Null).is_empty());
        assert_eq!(output_messages(&json!({"c": 2})), vec![r#"{"c":2}"#]);
    }

    #[test]
    fn a_response_without_outputs_or_json_has_none() {
        assert_eq!(
            InvocationResponse::parse(b""),
            InvocationResponse::default()
        );
        let r = InvocationResponse::parse(
            br#"{"Outputs":{"steps":"x"},"Logs":["hi"],"ReturnValue":null}"#,
        );
        assert_eq!(r.outputs["steps"], "x");
        assert_eq!(r.logs, vec!["hi"]);
    }

    #[test]
    fn base64_lookalikes_are_spotted_and_json_is_not() {
        assert!(looks_like_base64("aGVsbG8="));
        assert!(looks_like_base64("true"));
        assert!(!looks_like_base64(r#"{"a":1}"#));
    }

    #[test]
    fn an_http_output_reads_numeric_or_string_status() {
        let r = HttpResponse::from_output(Some(
            &json!({"statusCode": "404", "body": {"a": 1}, "headers": {"X": "y"}}),
        ));
        assert_eq!(
            (r.status, r.body.as_str(), r.headers["X"].as_str()),
            (404, r#"{"a":1}"#, "y")
        );
        assert_eq!(HttpResponse::from_output(None).status, 204);
    }

    #[test]
    fn routes_match_with_parameters_and_catch_alls() {
        let p = match_route("status/{*path}", "status/runs/r1").unwrap();
        assert_eq!(p["path"], "runs/r1");
        assert_eq!(match_route("status/{*path}", "status").unwrap()["path"], "");
        assert_eq!(
            match_route("runs/{id}/{step?}", "runs/7").unwrap()["id"],
            "7"
        );
        assert_eq!(match_route("runs/{id:int}", "runs/7").unwrap()["id"], "7");
        assert!(match_route("runs/{id}", "runs/7/x").is_none());
        assert!(match_route("status", "other").is_none());
    }

    #[test]
    fn a_timer_request_carries_the_documented_shape() {
        let now: DateTime<Utc> = "2030-01-01T02:00:00Z".parse().unwrap();
        let v = timer_request("nightly", "timer", None, now, "g");
        assert_eq!(
            v,
            json!({"Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}},
                   "Metadata": {"sys": {"MethodName": "nightly", "UtcNow": "2030-01-01T02:00:00.0000000Z", "RandGuid": "g"}}})
        );
        let s = ScheduleStatus {
            last: now,
            next: now,
            last_updated: now,
        };
        let v = timer_request("nightly", "timer", Some(s), now, "g");
        assert_eq!(
            v["Data"]["timer"]["ScheduleStatus"]["Next"],
            "2030-01-01T02:00:00.0000000+00:00"
        );
    }
}
