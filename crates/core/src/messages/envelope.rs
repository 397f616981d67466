//! What every message must satisfy before its body is read (its `MessageId`, its size), the strict decoder every
//! queue uses (one key once, the right `schema`), and [`Rejection`]: why a message can never succeed.

use crate::names::NameError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(
    body: &str,
    schema: &str,
) -> Result<T, Rejection> {
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
