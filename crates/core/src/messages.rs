//! The messages nightshift exchanges on its queues, versioned by a `schema` field.
//!
//! Decoding validates: a message that can never succeed is a [`Rejection`] with its reason, which the handlers
//! record and acknowledge instead of letting the queue retry it.

use crate::names::{EnvironmentName, NameError, ProductName, RunId, StepName, Ttl};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub const RELEASE_SCHEMA: &str = "nightshift.release/v1";
pub const STEP_SCHEMA: &str = "nightshift.step/v1";
pub const STEP_EVENT_SCHEMA: &str = "nightshift.step-event/v1";

pub const RELEASES_QUEUE: &str = "releases";
pub const STEPS_QUEUE: &str = "steps";
pub const STEP_EVENTS_QUEUE: &str = "step-events";

/// The bounds of a step event's fields: an attempt number (retries are at most 10, so 11 attempts; the rest is
/// margin), a failure reason, the outputs, the log key.
pub const MAX_ATTEMPT: u32 = 100;
pub const MAX_REASON_CHARS: usize = 64 * 1024;
pub const MAX_OUTPUTS: usize = 1000;
pub const MAX_OUTPUT_NAME_CHARS: usize = 128;
pub const MAX_LOG_KEY_CHARS: usize = 512;

/// Why a message can never succeed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{reason}")]
pub struct Rejection {
    pub reason: String,
}

impl Rejection {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

impl From<NameError> for Rejection {
    fn from(e: NameError) -> Self {
        Self::new(e.to_string())
    }
}

/// The largest message body nightshift reads (the Service Bus standard tier allows 256 KiB; premium more).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The longest `MessageId` accepted (Service Bus allows 128 characters).
pub const MAX_MESSAGE_ID_CHARS: usize = 128;

/// The longest `requested_by` a release may give.
pub const MAX_REQUESTED_BY_CHARS: usize = 200;

/// A text field, trimmed, refused when empty, longer than `max` characters, or holding control characters; the
/// reason names the field.
pub fn bounded_text(field: &str, value: &str, max: usize) -> Result<String, Rejection> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Rejection::new(format!("{field} is empty")));
    }
    let n = v.chars().count();
    if n > max {
        return Err(Rejection::new(format!(
            "{field} is {n} characters long: at most {max}"
        )));
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(Rejection::new(format!(
            "{field} holds the control character {c:?}"
        )));
    }
    Ok(v.to_string())
}

/// What the envelope says about a message, checked before its body is read: a `MessageId` that is missing,
/// empty, too long or holds control characters, or a body over [`MAX_BODY_BYTES`], can never succeed.
pub fn check_envelope(message_id: Option<&str>, body: &str) -> Result<(), Rejection> {
    let Some(id) = message_id else {
        return Err(Rejection::new("the message has no MessageId"));
    };
    if id.is_empty() {
        return Err(Rejection::new("MessageId is empty"));
    }
    let n = id.chars().count();
    if n > MAX_MESSAGE_ID_CHARS {
        return Err(Rejection::new(format!(
            "MessageId is {n} characters long: at most {MAX_MESSAGE_ID_CHARS}"
        )));
    }
    if id.chars().any(char::is_control) {
        return Err(Rejection::new("MessageId holds control characters"));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::new(format!(
            "the body is {} bytes: at most {MAX_BODY_BYTES} (2 MiB)",
            body.len()
        )));
    }
    Ok(())
}

fn decode<T: for<'de> Deserialize<'de>>(body: &str, schema: &str) -> Result<T, Rejection> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::new(format!(
            "the body is {} bytes: at most {MAX_BODY_BYTES} (2 MiB)",
            body.len()
        )));
    }
    // Strict: a body that gives a key twice says two things; serde_json would keep the last one silently.
    let v: Value = crate::json::parse_strict(body).map_err(|e| {
        if e.starts_with("duplicate key") {
            Rejection::new(format!(
                "the body repeats a key ({e}): give each field once"
            ))
        } else {
            Rejection::new(format!("the body is not JSON: {e}"))
        }
    })?;
    match v.get("schema").and_then(Value::as_str) {
        Some(s) if s == schema => {}
        Some(s) => {
            return Err(Rejection::new(format!(
                "schema is {s:?}; expected {schema:?}"
            )))
        }
        None => {
            return Err(Rejection::new(format!(
                "no \"schema\" field; expected {schema:?}"
            )))
        }
    }
    serde_json::from_value(v).map_err(|e| Rejection::new(format!("does not match {schema}: {e}")))
}

/// A release pipeline asks for a version of a product in an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseMessage {
    pub schema: String,
    pub product: String,
    pub environment: String,
    pub version: String,
    pub requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// When the released commit was made (RFC 3339), for change lead time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<String>,
}

/// A validated release request.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub product: ProductName,
    pub environment: EnvironmentName,
    pub version: String,
    pub requested_by: String,
    pub ttl: Option<Ttl>,
    pub commit_time: Option<DateTime<Utc>>,
}

impl Release {
    pub fn decode(body: &str) -> Result<Self, Rejection> {
        let m: ReleaseMessage = decode(body, RELEASE_SCHEMA)?;
        let version = m.version.trim().to_string();
        if version.is_empty()
            || version.len() > 40
            || !version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        {
            return Err(Rejection::new(format!(
                "version {:?} is invalid: use letters, digits, '.', '-', '+' (at most 40), e.g. 1.4.2",
                m.version
            )));
        }
        let requested_by = bounded_text("requested_by", &m.requested_by, MAX_REQUESTED_BY_CHARS)
            .map_err(|e| Rejection::new(format!("{}: name the pipeline or person", e.reason)))?;
        Ok(Release {
            product: ProductName::parse(&m.product)?,
            environment: EnvironmentName::parse(&m.environment)?,
            version,
            requested_by,
            ttl: m
                .ttl
                .as_deref()
                .map(Ttl::parse)
                .transpose()
                .map_err(|e| Rejection::new(format!("ttl: {e}")))?,
            commit_time: m
                .commit_time
                .as_deref()
                .map(|t| {
                    DateTime::parse_from_rfc3339(t)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| {
                            Rejection::new(format!(
                                "commit_time {t:?} is not an RFC 3339 time ({e}): give one like 2026-11-21T09:00:00Z"
                            ))
                        })
                })
                .transpose()?,
        })
    }
}

/// "Start this attempt of this step": the `steps` queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMessage {
    pub schema: String,
    pub run_id: RunId,
    pub step: StepName,
    pub attempt: u32,
    /// 0 for the first dispatch of an attempt; n for the watchdog's n-th re-dispatch of it, which needs a MessageId
    /// of its own: Service Bus duplicate detection would drop a repeat of the first one inside its window.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redispatch: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl StepMessage {
    pub fn new(run: &RunId, step: &StepName, attempt: u32) -> Self {
        Self {
            schema: STEP_SCHEMA.into(),
            run_id: run.clone(),
            step: step.clone(),
            attempt,
            redispatch: 0,
        }
    }
    /// The watchdog's `n`-th re-dispatch (n >= 1) of an attempt whose dispatch was lost.
    pub fn redispatched(run: &RunId, step: &StepName, attempt: u32, n: u32) -> Self {
        Self {
            redispatch: n.max(1),
            ..Self::new(run, step, attempt)
        }
    }
    pub fn decode(body: &str) -> Result<Self, Rejection> {
        let m: Self = decode(body, STEP_SCHEMA)?;
        if m.attempt == 0 {
            return Err(Rejection::new("attempt starts at 1"));
        }
        Ok(m)
    }
    /// Deterministic, so Service Bus duplicate detection drops a repeat; a re-dispatch has its own.
    pub fn message_id(&self) -> String {
        match self.redispatch {
            0 => format!("{}/{}/{}/dispatch", self.run_id, self.step, self.attempt),
            n => format!(
                "{}/{}/{}/redispatch/{n}",
                self.run_id, self.step, self.attempt
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    Succeeded,
    Failed,
    /// Stopped from outside (SIGTERM); worth another attempt.
    Interrupted,
}

/// "This attempt ended": the `step-events` queue, sent by the runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepEventMessage {
    pub schema: String,
    pub run_id: RunId,
    pub step: StepName,
    pub attempt: u32,
    pub outcome: StepOutcome,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub reason: Option<String>,
    /// A failure that another attempt cannot fix (bad configuration).
    #[serde(default)]
    pub permanent: bool,
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Where the attempt's log is kept (a store key).
    #[serde(default)]
    pub log: Option<String>,
}

impl StepEventMessage {
    pub fn decode(body: &str) -> Result<Self, Rejection> {
        let m: Self = decode(body, STEP_EVENT_SCHEMA)?;
        m.check_bounds()?;
        Ok(m)
    }

    /// Every field within its bound, or the reason it is not.
    pub fn check_bounds(&self) -> Result<(), Rejection> {
        if self.attempt == 0 || self.attempt > MAX_ATTEMPT {
            return Err(Rejection::new(format!(
                "attempt is {}: attempts run from 1 to {MAX_ATTEMPT}",
                self.attempt
            )));
        }
        if let Some(reason) = &self.reason {
            let n = reason.chars().count();
            if n > MAX_REASON_CHARS {
                return Err(Rejection::new(format!(
                    "reason is {n} characters long: at most {MAX_REASON_CHARS}"
                )));
            }
        }
        if self.outputs.len() > MAX_OUTPUTS {
            return Err(Rejection::new(format!(
                "{} outputs: at most {MAX_OUTPUTS}",
                self.outputs.len()
            )));
        }
        if let Some(k) = self
            .outputs
            .keys()
            .find(|k| k.is_empty() || k.chars().count() > MAX_OUTPUT_NAME_CHARS)
        {
            return Err(Rejection::new(format!(
                "output name {k:?}: use 1 to {MAX_OUTPUT_NAME_CHARS} characters"
            )));
        }
        if let Some(log) = &self.log {
            if log.len() > MAX_LOG_KEY_CHARS
                || !log.starts_with("logs/")
                || log
                    .split('/')
                    .any(|seg| seg.is_empty() || seg == "." || seg == "..")
            {
                return Err(Rejection::new(format!(
                    "log {log:?} is not a store key under logs/ (at most {MAX_LOG_KEY_CHARS} characters)"
                )));
            }
        }
        if self.finished_at < self.started_at {
            return Err(Rejection::new(format!(
                "finished_at {} is before started_at {}",
                self.finished_at.to_rfc3339(),
                self.started_at.to_rfc3339()
            )));
        }
        Ok(())
    }
    pub fn message_id(&self) -> String {
        format!("{}/{}/{}/result", self.run_id, self.step, self.attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_message_is_validated_field_by_field() {
        let ok = r#"{"schema":"nightshift.release/v1","product":"orthense","environment":"pr-123","version":"1.4.2","requested_by":"ci","ttl":"3d"}"#;
        let r = Release::decode(ok).unwrap();
        assert_eq!(r.environment.as_str(), "pr-123");
        assert_eq!(r.ttl.unwrap().to_string(), "3d");
        assert_eq!(r.commit_time, None);
        let with_commit = ok.replace("}", r#","commit_time":"2026-11-21T09:00:00+01:00"}"#);
        assert_eq!(
            Release::decode(&with_commit)
                .unwrap()
                .commit_time
                .unwrap()
                .to_rfc3339(),
            "2026-11-21T08:00:00+00:00"
        );
        for (body, needle) in [
            ("{not json", "not JSON"),
            (r#"{"product":"x"}"#, "no \"schema\""),
            (&ok.replace("3d", "3 days"), "ttl"),
            (&ok.replace("pr-123", "PR 123"), "environment name"),
            (&ok.replace("1.4.2", "1.4.2; rm -rf"), "version"),
            (&ok.replace("\"ttl\"", "\"tll\""), "unknown field"),
            (
                &ok.replace("}", r#","commit_time":"yesterday"}"#),
                "commit_time",
            ),
        ] {
            let e = Release::decode(body).unwrap_err();
            assert!(e.reason.contains(needle), "{body}: {e}");
        }
    }

    #[test]
    fn step_messages_round_trip_and_have_deterministic_ids() {
        let m = StepMessage::new(
            &RunId::parse("shop.nightly.n20261121").unwrap(),
            &StepName::parse("db").unwrap(),
            2,
        );
        let back = StepMessage::decode(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(m.message_id(), "shop.nightly.n20261121/db/2/dispatch");
        assert!(
            !serde_json::to_string(&m).unwrap().contains("redispatch"),
            "a first dispatch keeps the body it always had"
        );
    }

    #[test]
    fn a_redispatch_has_its_own_message_id_per_attempt_and_count_and_round_trips() {
        let run = RunId::parse("shop.nightly.n20261121").unwrap();
        let step = StepName::parse("db").unwrap();
        let first = StepMessage::new(&run, &step, 2);
        let again = StepMessage::redispatched(&run, &step, 2, 1);
        let third = StepMessage::redispatched(&run, &step, 2, 2);

        assert_eq!(
            again.message_id(),
            "shop.nightly.n20261121/db/2/redispatch/1"
        );
        let ids: std::collections::BTreeSet<String> = [&first, &again, &third]
            .iter()
            .map(|m| m.message_id())
            .collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        let back = StepMessage::decode(&serde_json::to_string(&third).unwrap()).unwrap();
        assert_eq!(back, third);
        let old_body = r#"{"schema":"nightshift.step/v1","run_id":"shop.nightly.n20261121","step":"db","attempt":2}"#;
        let m = StepMessage::decode(old_body).unwrap();
        assert_eq!(m, first, "a body without the field is a first dispatch");
    }
}
