//! The `releases` queue: one message shape for every lifecycle action (deploy, close, destroy, extend, keep),
//! validated into a [`Request`] with exactly its own fields.

use super::*;
use crate::names::{EnvironmentName, ProductName, Ttl};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest `requested_by` a release may give.
pub const MAX_REQUESTED_BY_CHARS: usize = 200;
/// A `keep` message's `reason`, trimmed.
pub const MAX_KEEP_REASON_CHARS: usize = 500;

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
}
