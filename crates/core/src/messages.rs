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
/// A `keep` message's `reason`, trimmed.
pub const MAX_KEEP_REASON_CHARS: usize = 500;

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

/// What a release message asks for. `deploy` when absent, so the first version's messages stay valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseAction {
    /// Build (or rebuild) a version in an environment.
    #[default]
    Deploy,
    /// The pull request closed: destroy its environment now.
    Close,
    /// Push the environment's expiry out (`by` or `until`).
    Extend,
    /// Pin the environment for debugging (`for`, `reason`): the sweep keeps it until then.
    Keep,
    /// Destroy the environment now.
    Destroy,
}

impl ReleaseAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Deploy => "deploy",
            Self::Close => "close",
            Self::Extend => "extend",
            Self::Keep => "keep",
            Self::Destroy => "destroy",
        }
    }

    /// The optional fields this action takes; any other optional field is rejected.
    fn fields(&self) -> &'static [&'static str] {
        match self {
            Self::Deploy => &["version", "ttl", "commit_time"],
            Self::Close | Self::Destroy => &[],
            Self::Extend => &["by", "until"],
            Self::Keep => &["for", "reason"],
        }
    }
}

/// The wire shape of a `releases` message (`docs/messages.md`, `docs/schemas/release-message.v1.json`): one
/// object for every action; which optional fields an action takes is checked by [`Release::decode`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseMessage {
    pub schema: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<ReleaseAction>,
    pub product: String,
    pub environment: String,
    pub requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// When the released commit was made (RFC 3339), for change lead time (deploy only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ReleaseMessage {
    /// A message for `action` with the common fields set and no optional ones.
    pub fn new(
        action: ReleaseAction,
        product: &str,
        environment: &str,
        requested_by: &str,
    ) -> Self {
        Self {
            schema: RELEASE_SCHEMA.into(),
            action: Some(action),
            product: product.into(),
            environment: environment.into(),
            requested_by: requested_by.into(),
            ..Self::default()
        }
    }

    fn present(&self) -> Vec<&'static str> {
        [
            ("version", self.version.is_some()),
            ("ttl", self.ttl.is_some()),
            ("commit_time", self.commit_time.is_some()),
            ("by", self.by.is_some()),
            ("until", self.until.is_some()),
            ("for", self.for_.is_some()),
            ("reason", self.reason.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, there)| there.then_some(k))
        .collect()
    }
}

/// How far an `extend` pushes the expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension {
    /// From the current expiry.
    By(Ttl),
    /// To this time.
    Until(DateTime<Utc>),
}

/// A validated request, one variant per action, each with exactly its own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Deploy {
        version: String,
        ttl: Option<Ttl>,
        /// When the released commit was made, for change lead time.
        commit_time: Option<DateTime<Utc>>,
    },
    Close,
    Destroy,
    Extend(Extension),
    Keep {
        for_: Ttl,
        reason: String,
    },
}

impl Request {
    pub fn action(&self) -> ReleaseAction {
        match self {
            Self::Deploy { .. } => ReleaseAction::Deploy,
            Self::Close => ReleaseAction::Close,
            Self::Destroy => ReleaseAction::Destroy,
            Self::Extend(_) => ReleaseAction::Extend,
            Self::Keep { .. } => ReleaseAction::Keep,
        }
    }
}

/// A validated release message.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub product: ProductName,
    pub environment: EnvironmentName,
    pub requested_by: String,
    pub request: Request,
}

/// What could be read of a release message that did not decode: the action journal records it as far as it goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialRelease {
    pub action: Option<String>,
    pub product: Option<String>,
    pub environment: Option<String>,
    pub requested_by: Option<String>,
}

impl PartialRelease {
    /// Never fails: a field that is missing, not a string or too long reads as absent.
    pub fn read(body: &str) -> Self {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|s| s.chars().count() <= 200)
                .map(str::to_string)
        };
        Self {
            action: field("action"),
            product: field("product"),
            environment: field("environment"),
            requested_by: field("requested_by"),
        }
    }
}

fn duration_field(field: &str, value: &str) -> Result<Ttl, Rejection> {
    Ttl::parse(value).map_err(|e| Rejection::new(format!("{field}: {e}")))
}

impl Release {
    pub fn decode(body: &str) -> Result<Self, Rejection> {
        let m: ReleaseMessage = decode(body, RELEASE_SCHEMA)?;
        let action = m.action.unwrap_or_default();
        let allowed = action.fields();
        if let Some(extra) = m.present().into_iter().find(|f| !allowed.contains(f)) {
            return Err(Rejection::new(format!(
                "field {extra:?} does not belong to a {} message (it takes: {})",
                action.as_str(),
                if allowed.is_empty() {
                    "no optional field".to_string()
                } else {
                    allowed.join(", ")
                }
            )));
        }
        let requested_by = bounded_text("requested_by", &m.requested_by, MAX_REQUESTED_BY_CHARS)
            .map_err(|e| Rejection::new(format!("{}: name the pipeline or person", e.reason)))?;
        let request = match action {
            ReleaseAction::Deploy => {
                let raw = m.version.as_deref().ok_or_else(|| {
                    Rejection::new("a deploy message needs a version, e.g. \"version\": \"1.4.2\"")
                })?;
                let version = raw.trim().to_string();
                if version.is_empty()
                    || version.len() > 40
                    || !version
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
                {
                    return Err(Rejection::new(format!(
                        "version {raw:?} is invalid: use letters, digits, '.', '-', '+' (at most 40), e.g. 1.4.2"
                    )));
                }
                Request::Deploy {
                    version,
                    ttl: m.ttl.as_deref().map(|t| duration_field("ttl", t)).transpose()?,
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
                }
            }
            ReleaseAction::Close => Request::Close,
            ReleaseAction::Destroy => Request::Destroy,
            ReleaseAction::Extend => match (m.by.as_deref(), m.until.as_deref()) {
                (Some(by), None) => Request::Extend(Extension::By(duration_field("by", by)?)),
                (None, Some(until)) => Request::Extend(Extension::Until(
                    DateTime::parse_from_rfc3339(until)
                        .map_err(|e| {
                            Rejection::new(format!(
                                "until {until:?} is not an RFC 3339 time ({e}), e.g. 2026-12-09T18:00:00Z"
                            ))
                        })?
                        .with_timezone(&Utc),
                )),
                _ => {
                    return Err(Rejection::new(
                        "an extend message takes exactly one of \"by\" (e.g. \"2d\") or \"until\" (RFC 3339)",
                    ))
                }
            },
            ReleaseAction::Keep => {
                let for_ = m.for_.as_deref().ok_or_else(|| {
                    Rejection::new("a keep message needs \"for\" (e.g. \"3d\") and \"reason\"")
                })?;
                let reason = m.reason.as_deref().ok_or_else(|| {
                    Rejection::new("a keep message needs a \"reason\": say why it is kept")
                })?;
                Request::Keep {
                    for_: duration_field("for", for_)?,
                    reason: bounded_text("reason", reason, MAX_KEEP_REASON_CHARS)
                        .map_err(|e| Rejection::new(format!("{}: say why it is kept", e.reason)))?,
                }
            }
        };
        Ok(Release {
            product: ProductName::parse(&m.product)?,
            environment: EnvironmentName::parse(&m.environment)?,
            requested_by,
            request,
        })
    }

    pub fn action(&self) -> ReleaseAction {
        self.request.action()
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
        assert_eq!(r.action(), ReleaseAction::Deploy, "deploy is the default");
        match &r.request {
            Request::Deploy {
                version,
                ttl,
                commit_time,
            } => {
                assert_eq!(version, "1.4.2");
                assert_eq!(ttl.unwrap().to_string(), "3d");
                assert_eq!(*commit_time, None);
            }
            other => panic!("{other:?}"),
        }
        let with_commit = ok.replace('}', r#","commit_time":"2026-11-21T09:00:00+01:00"}"#);
        match Release::decode(&with_commit).unwrap().request {
            Request::Deploy { commit_time, .. } => assert_eq!(
                commit_time.map(|t| t.to_rfc3339()).as_deref(),
                Some("2026-11-21T08:00:00+00:00")
            ),
            other => panic!("{other:?}"),
        }
        for (body, needle) in [
            ("{not json", "not JSON"),
            (r#"{"product":"x"}"#, "no \"schema\""),
            (&ok.replace("3d", "3 days"), "ttl"),
            (&ok.replace("pr-123", "PR 123"), "environment name"),
            (&ok.replace("1.4.2", "1.4.2; rm -rf"), "version"),
            (&ok.replace("\"ttl\"", "\"tll\""), "unknown field"),
            (
                &ok.replace('}', r#","commit_time":"yesterday"}"#),
                "commit_time",
            ),
        ] {
            let e = Release::decode(body).unwrap_err();
            assert!(e.reason.contains(needle), "{body}: {e}");
        }
    }

    const BASE: &str = r#""schema":"nightshift.release/v1","product":"shop","environment":"pr-7","requested_by":"alice""#;

    fn msg(rest: &str) -> String {
        format!("{{{BASE}{rest}}}")
    }

    #[test]
    fn every_action_decodes_into_its_own_request() {
        let cases = [
            (r#","action":"close""#, Request::Close),
            (r#","action":"destroy""#, Request::Destroy),
            (
                r#","action":"extend","by":"2d""#,
                Request::Extend(Extension::By(Ttl::parse("2d").unwrap())),
            ),
            (
                r#","action":"extend","until":"2026-12-09T18:00:00+01:00""#,
                Request::Extend(Extension::Until(
                    DateTime::parse_from_rfc3339("2026-12-09T17:00:00Z")
                        .unwrap()
                        .with_timezone(&Utc),
                )),
            ),
            (
                r#","action":"keep","for":"3d","reason":" flaky smoke ""#,
                Request::Keep {
                    for_: Ttl::parse("3d").unwrap(),
                    reason: "flaky smoke".into(),
                },
            ),
            (
                r#","action":"deploy","version":"1.4.2""#,
                Request::Deploy {
                    version: "1.4.2".into(),
                    ttl: None,
                    commit_time: None,
                },
            ),
        ];
        for (rest, want) in cases {
            let r = Release::decode(&msg(rest)).unwrap_or_else(|e| panic!("{rest}: {e}"));
            assert_eq!(r.request, want, "{rest}");
            assert_eq!(r.requested_by, "alice");
        }
    }

    #[test]
    fn a_field_that_does_not_belong_to_the_action_is_rejected_with_the_fields_it_takes() {
        for (rest, needle) in [
            (
                r#","version":"1.0","by":"2d""#,
                "field \"by\" does not belong to a deploy message",
            ),
            (r#","action":"close","version":"1.0""#, "no optional field"),
            (r#","action":"extend","ttl":"2d""#, "it takes: by, until"),
            (
                r#","action":"keep","for":"1d","reason":"x","by":"1d""#,
                "it takes: for, reason",
            ),
            (
                r#","action":"extend","by":"2d","until":"2026-12-09T18:00:00Z""#,
                "exactly one",
            ),
            (r#","action":"extend""#, "exactly one"),
            (r#","action":"keep","for":"1d""#, "reason"),
            (r#","action":"keep","reason":"x""#, "for"),
            (r#","action":"deploy""#, "needs a version"),
            (r#","action":"extend","until":"tomorrow""#, "RFC 3339"),
            (r#","action":"extend","by":"2 days""#, "by:"),
            (r#","action":"explode""#, "unknown variant"),
            (r#","action":"close","colour":"red""#, "unknown field"),
        ] {
            let e = Release::decode(&msg(rest)).unwrap_err();
            assert!(e.reason.contains(needle), "{rest}: {e}");
        }
    }

    #[test]
    fn requested_by_and_reason_are_bounded_after_trimming() {
        let long = "x".repeat(201);
        let body = msg(r#","action":"close""#).replace("\"alice\"", &format!("{long:?}"));
        assert!(Release::decode(&body)
            .unwrap_err()
            .reason
            .contains("at most 200"));
        let blank = msg(r#","action":"close""#).replace("\"alice\"", "\"   \"");
        assert!(Release::decode(&blank)
            .unwrap_err()
            .reason
            .contains("requested_by"));
        let ok = "y".repeat(200);
        let body = msg(r#","action":"close""#).replace("\"alice\"", &format!("{ok:?}"));
        assert!(Release::decode(&body).is_ok());
        let reason = format!(
            r#","action":"keep","for":"1d","reason":"{}""#,
            "r".repeat(501)
        );
        assert!(Release::decode(&msg(&reason))
            .unwrap_err()
            .reason
            .contains("at most 500"));
    }

    #[test]
    fn a_partial_read_takes_what_it_can_from_a_message_that_does_not_decode() {
        let p = PartialRelease::read(r#"{"action":"close","product":"shop","environment":7}"#);
        assert_eq!(p.action.as_deref(), Some("close"));
        assert_eq!(p.product.as_deref(), Some("shop"));
        assert_eq!(p.environment, None);
        assert_eq!(PartialRelease::read("{nope"), PartialRelease::default());
    }

    #[test]
    fn a_message_built_for_an_action_round_trips_through_the_decoder() {
        let mut m = ReleaseMessage::new(ReleaseAction::Keep, "shop", "pr-7", "alice");
        m.for_ = Some("3d".into());
        m.reason = Some("debugging".into());
        let body = serde_json::to_string(&m).unwrap();
        assert!(body.contains("\"for\":\"3d\""), "{body}");
        assert_eq!(
            Release::decode(&body).unwrap().action(),
            ReleaseAction::Keep
        );
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
