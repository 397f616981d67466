//! The lifecycle message as the contract (docs/messages.md) has it, built and validated from the command line
//! before anything is sent, and the identifiers that go with it: who asks, the message id, the outcome's key.

use nightshift_core::messages::RELEASE_SCHEMA;
use nightshift_core::{EnvironmentName, ProductName, Ttl};
use serde_json::{json, Map, Value};

/// What to ask for, as the command line gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Deploy {
        version: String,
        ttl: Option<String>,
    },
    Close,
    Destroy,
    Extend {
        by: Option<String>,
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    Keep {
        for_: String,
        reason: String,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Deploy { .. } => "deploy",
            Self::Close => "close",
            Self::Destroy => "destroy",
            Self::Extend { .. } => "extend",
            Self::Keep { .. } => "keep",
        }
    }
}

/// `$USER@hostname`, as far as they can be found.
pub fn default_identity() -> String {
    let user = ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{}@{host}", user.trim())
}

/// `cli-<unix-nanos>-<random hex>`: unique per call.
pub fn new_message_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut bytes = [0u8; 6];
    let random = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if random.is_err() {
        bytes = (std::process::id() as u64 ^ nanos as u64).to_le_bytes()[..6]
            .try_into()
            .unwrap_or_default();
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("cli-{nanos}-{hex}")
}

/// The store key of an action's outcome: the handler's own definition, so `--wait` reads where it writes.
pub use nightshift_app::repo::action_key;

fn bounded(field: &str, value: &str, max: usize) -> Result<String, String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(format!(
            "{field} must be 1 to {max} characters (got {})",
            v.chars().count()
        ));
    }
    Ok(v.to_string())
}

fn duration(field: &str, value: &str) -> Result<String, String> {
    Ttl::parse(value)
        .map(|_| value.trim().to_string())
        .map_err(|e| format!("{field} {value:?}: {e} (e.g. 2d, 12h)"))
}

/// The message body, validated as the handler will (so bad usage is refused here, before anything is sent).
pub fn message(
    action: &Action,
    product: &str,
    environment: &str,
    requested_by: &str,
) -> Result<Value, String> {
    ProductName::parse(product).map_err(|e| format!("product: {e}"))?;
    EnvironmentName::parse(environment).map_err(|e| format!("environment: {e}"))?;
    let mut m = Map::new();
    m.insert("schema".into(), json!(RELEASE_SCHEMA));
    if !matches!(action, Action::Deploy { .. }) {
        // A deploy leaves `action` out: the default, and what every handler version accepts.
        m.insert("action".into(), json!(action.name()));
    }
    m.insert("product".into(), json!(product));
    m.insert("environment".into(), json!(environment));
    match action {
        Action::Deploy { version, ttl } => {
            let v = version.trim();
            if v.is_empty()
                || v.len() > 40
                || !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
            {
                return Err(format!(
                    "version {version:?} is invalid: use letters, digits, '.', '-', '+' (at most 40), e.g. 1.4.2"
                ));
            }
            m.insert("version".into(), json!(v));
            m.insert(
                "requested_by".into(),
                json!(bounded("--requested-by", requested_by, 200)?),
            );
            if let Some(ttl) = ttl {
                m.insert("ttl".into(), json!(duration("--ttl", ttl)?));
            }
        }
        Action::Close | Action::Destroy => {
            m.insert(
                "requested_by".into(),
                json!(bounded("--requested-by", requested_by, 200)?),
            );
        }
        Action::Extend { by, until } => {
            m.insert(
                "requested_by".into(),
                json!(bounded("--requested-by", requested_by, 200)?),
            );
            match (by, until) {
                (Some(by), None) => {
                    m.insert("by".into(), json!(duration("--by", by)?));
                }
                (None, Some(t)) => {
                    m.insert(
                        "until".into(),
                        json!(nightshift_core::expiry::tags::format_time(*t)),
                    );
                }
                _ => return Err("give exactly one of --by DURATION or --until TIME".into()),
            }
        }
        Action::Keep { for_, reason } => {
            m.insert(
                "requested_by".into(),
                json!(bounded("--requested-by", requested_by, 200)?),
            );
            m.insert("for".into(), json!(duration("--for", for_)?));
            m.insert("reason".into(), json!(bounded("--reason", reason, 500)?));
        }
    }
    Ok(Value::Object(m))
}

pub fn valid_message_id(id: &str) -> Result<String, String> {
    if id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "--message-id {id:?}: give 1 to 128 characters without spaces"
        ));
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_builds_the_contracts_message_and_a_deploy_leaves_action_out() {
        let who = "alice";
        let m = |a: Action| message(&a, "orthense-demo", "pr-7", who).unwrap();
        assert_eq!(
            m(Action::Deploy {
                version: "1.4.2".into(),
                ttl: Some("7d".into())
            }),
            json!({"schema":"nightshift.release/v1","product":"orthense-demo","environment":"pr-7",
                   "version":"1.4.2","requested_by":"alice","ttl":"7d"})
        );
        assert_eq!(
            m(Action::Close),
            json!({"schema":"nightshift.release/v1","action":"close","product":"orthense-demo",
                   "environment":"pr-7","requested_by":"alice"})
        );
        assert_eq!(m(Action::Destroy)["action"], "destroy");
        assert_eq!(
            m(Action::Extend {
                by: Some("2d".into()),
                until: None
            }),
            json!({"schema":"nightshift.release/v1","action":"extend","product":"orthense-demo",
                   "environment":"pr-7","requested_by":"alice","by":"2d"})
        );
        let until = chrono::DateTime::parse_from_rfc3339("2026-12-09T18:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(
            m(Action::Extend {
                by: None,
                until: Some(until)
            })["until"],
            "2026-12-09T18:00:00Z"
        );
        assert_eq!(
            m(Action::Keep {
                for_: "3d".into(),
                reason: "debugging the flaky smoke check".into()
            }),
            json!({"schema":"nightshift.release/v1","action":"keep","product":"orthense-demo",
                   "environment":"pr-7","requested_by":"alice","for":"3d",
                   "reason":"debugging the flaky smoke check"})
        );
    }

    #[test]
    fn bad_values_are_refused_before_anything_is_sent_naming_the_flag() {
        let bad = |a: Action, who: &str| message(&a, "orthense-demo", "pr-7", who).unwrap_err();
        assert!(bad(
            Action::Deploy {
                version: "1 2".into(),
                ttl: None
            },
            "a"
        )
        .contains("version"));
        assert!(bad(
            Action::Deploy {
                version: "1".into(),
                ttl: Some("soon".into())
            },
            "a"
        )
        .contains("--ttl"));
        assert!(bad(Action::Close, " ").contains("--requested-by"));
        assert!(bad(Action::Close, &"x".repeat(201)).contains("--requested-by"));
        assert!(bad(
            Action::Extend {
                by: Some("2 days".into()),
                until: None
            },
            "a"
        )
        .contains("--by"));
        assert!(bad(
            Action::Keep {
                for_: "3d".into(),
                reason: "x".repeat(501)
            },
            "a"
        )
        .contains("--reason"));
        assert!(message(&Action::Close, "Bad Product", "pr-7", "a")
            .unwrap_err()
            .contains("product"));
        assert!(valid_message_id("has space").is_err());
        assert!(valid_message_id(&"x".repeat(129)).is_err());
    }

    #[test]
    fn generated_message_ids_are_unique_and_follow_the_cli_pattern() {
        let (a, b) = (new_message_id(), new_message_id());
        assert_ne!(a, b);
        assert!(a.starts_with("cli-") && a.split('-').count() == 3, "{a}");
        assert!(default_identity().contains('@'));
        assert_eq!(
            action_key("m-1").len(),
            "actions/".len() + 64 + ".json".len()
        );
    }
}
