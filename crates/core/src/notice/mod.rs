//! What a notification says, and how each chat format says it: the pure half of notifying.
//!
//! The engine and the use cases decide *that* people are told ([`crate::engine::Notification`]); this module decides
//! *what they read*: a Slack Block Kit message, a Teams Adaptive Card 1.5 in the Workflows envelope, or a generic
//! JSON document for anything else. Rendering is a pure function of the notification, so every kind in every
//! format is snapshot-tested without a network. Log lines shown in a card are redacted here first.

mod slack;
mod teams;

use crate::engine::{Notification, NotificationKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub use slack::{check_block_kit, SLACK_MAX_BLOCKS, SLACK_MAX_HEADER, SLACK_MAX_TEXT};

/// What the cards show beyond the one-line text: filled by the engine (step, attempt) and the application (the
/// run's version, URLs, expiry, log tail, links). Every field is optional: a card shows what it has.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Why: a failure's reason, a destruction's reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The environment's URLs by name (from the run's outputs).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub urls: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The run's status page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_url: Option<String>,
    /// The last lines of the failed step's log, already redacted ([`redact`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_tail: Vec<String>,
    /// What to do next, in one sentence (a command to run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Signed action links (extend, keep), when actions are enabled.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Link>,
    /// When the event happened (the notification delay is measured from it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_at: Option<DateTime<Utc>>,
}

impl Details {
    pub fn is_empty(&self) -> bool {
        self == &Details::default()
    }
}

/// A labelled link button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// The payload format a webhook takes, chosen per webhook in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Slack,
    Teams,
    Generic,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "slack" => Some(Self::Slack),
            "teams" => Some(Self::Teams),
            "generic" => Some(Self::Generic),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Teams => "teams",
            Self::Generic => "generic",
        }
    }
}

/// The stable, lower-case name of a notification kind (a log field, a chart dimension, the generic payload).
pub fn kind_name(kind: &NotificationKind) -> &'static str {
    match kind {
        NotificationKind::RunWaiting => "run-waiting",
        NotificationKind::RunStarted => "run-started",
        NotificationKind::StepRetrying => "step-retrying",
        NotificationKind::StepFailed => "step-failed",
        NotificationKind::RunSucceeded => "run-succeeded",
        NotificationKind::RunFailed => "run-failed",
        NotificationKind::RollbackStarted => "rollback-started",
        NotificationKind::RollbackFinished => "rollback-finished",
        NotificationKind::EnvironmentDestroyed => "environment-destroyed",
        NotificationKind::ExpiryWarning => "expiry-warning",
    }
}

/// How a state looks at a glance: good, attention (failed), warning (retry, expiry), neutral (in progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Good,
    Attention,
    Warning,
    Neutral,
}

pub(crate) fn tone(kind: &NotificationKind) -> Tone {
    match kind {
        NotificationKind::RunSucceeded | NotificationKind::RollbackFinished => Tone::Good,
        NotificationKind::RunFailed | NotificationKind::StepFailed => Tone::Attention,
        NotificationKind::StepRetrying
        | NotificationKind::ExpiryWarning
        | NotificationKind::RollbackStarted => Tone::Warning,
        NotificationKind::RunWaiting
        | NotificationKind::RunStarted
        | NotificationKind::EnvironmentDestroyed => Tone::Neutral,
    }
}

/// The headline: the state in words, with the environment.
pub fn title(n: &Notification) -> String {
    let env = format!("{}/{}", n.product, n.environment);
    let step = n.details.step.as_deref().unwrap_or("a step");
    match n.kind {
        NotificationKind::RunWaiting => format!("{env}: deployment queued"),
        NotificationKind::RunStarted => format!("{env}: deployment started"),
        NotificationKind::StepRetrying => format!("{env}: step {step} failed, retrying"),
        NotificationKind::StepFailed => format!("{env}: step {step} failed"),
        NotificationKind::RunSucceeded => format!("{env} is ready"),
        NotificationKind::RunFailed => format!("{env}: deployment FAILED"),
        NotificationKind::RollbackStarted => format!("{env}: rolling back"),
        NotificationKind::RollbackFinished => format!("{env}: rollback finished"),
        NotificationKind::EnvironmentDestroyed => format!("{env} was destroyed"),
        NotificationKind::ExpiryWarning => format!("{env} will be deleted soon"),
    }
}

/// The facts a card lists, in order: product, environment, version, requested by, duration, step, expiry.
pub(crate) fn facts(n: &Notification) -> Vec<(&'static str, String)> {
    let d = &n.details;
    let mut f = vec![
        ("Product", n.product.clone()),
        ("Environment", n.environment.clone()),
    ];
    if let Some(v) = &d.version {
        f.push(("Version", v.clone()));
    }
    if let Some(v) = &d.requested_by {
        f.push(("Requested by", v.clone()));
    }
    if let Some(s) = d.duration_secs {
        f.push(("Duration", human_secs(s)));
    }
    if let Some(s) = &d.step {
        let s = match d.attempt {
            Some(a) => format!("{s} (attempt {a})"),
            None => s.clone(),
        };
        f.push(("Step", s));
    }
    if let Some(t) = d.expires_at {
        f.push(("Expires", t.format("%Y-%m-%d %H:%M UTC").to_string()));
    }
    f
}

/// The link buttons: the environment's URLs, the run's status, then the actions.
pub(crate) fn links(n: &Notification) -> Vec<Link> {
    let d = &n.details;
    let mut l: Vec<Link> = d
        .urls
        .iter()
        .map(|(name, url)| Link {
            label: format!("Open {name}"),
            url: url.clone(),
        })
        .collect();
    if let Some(u) = &d.status_url {
        l.push(Link {
            label: "Run status".into(),
            url: u.clone(),
        });
    }
    l.extend(d.actions.iter().cloned());
    l
}

fn human_secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Cuts a text to at most `max` characters (not bytes), marking the cut with an ellipsis.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The payload of a notification in a format.
pub fn render(format: Format, n: &Notification) -> Value {
    match format {
        Format::Slack => slack::render(n),
        Format::Teams => teams::render(n),
        Format::Generic => generic(n),
    }
}

/// Anything else: one JSON document with a stable schema; `text` first, so a Slack-compatible endpoint still shows
/// the line.
fn generic(n: &Notification) -> Value {
    json!({
        "schema": "nightshift.notification/v1",
        "text": n.text,
        "title": title(n),
        "kind": kind_name(&n.kind),
        "run": n.run,
        "product": n.product,
        "environment": n.environment,
        "details": n.details,
    })
}

/// Masks what looks like a secret in a log line: values of `password=`, `secret:`, `token=`, `key=`-like
/// assignments, `Bearer` tokens, and long unbroken base64/hex runs (keys, SAS signatures, JWTs).
pub fn redact(line: &str) -> String {
    const SENSITIVE: [&str; 7] = [
        "password", "passwd", "secret", "token", "apikey", "api_key", "sig",
    ];
    let mut out = Vec::new();
    let mut mask_next = false;
    for word in line.split(' ') {
        if mask_next {
            out.push("***".to_string());
            mask_next = false;
            continue;
        }
        let lower = word.to_ascii_lowercase();
        if lower == "bearer" || lower == "basic" {
            out.push(word.to_string());
            mask_next = true;
            continue;
        }
        // key=value, key: value, "key":"value"
        if let Some(pos) = word.find(['=', ':']) {
            let key = lower[..pos].trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
            if SENSITIVE.iter().any(|s| key.ends_with(s)) || key.ends_with("key") {
                if pos + 1 < word.len() {
                    out.push(format!("{}***", &word[..=pos]));
                } else {
                    out.push(word.to_string());
                    mask_next = true;
                }
                continue;
            }
        }
        let long_run = word
            .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_' | '=')))
            .any(|t| {
                t.len() >= 32
                    && t.chars().any(|c| c.is_ascii_digit())
                    && t.chars().any(|c| c.is_ascii_alphabetic())
            });
        out.push(if long_run {
            "***".to_string()
        } else {
            word.to_string()
        });
    }
    out.join(" ")
}

#[cfg(test)]
mod tests;
