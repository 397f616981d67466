//! The lifecycle verbs: `release`, `close`, `destroy`, `extend`, `keep`. Each builds one `nightshift.release/v1`
//! message (docs/messages.md) and sends it on the `releases` queue: locally onto the on-disk queue, on Azure to
//! Service Bus, through the same `Bus` port the handler uses. The handler, the only writer, applies it and
//! journals the outcome at `actions/<sha256 of the MessageId>.json`.
//!
//! `--wait` follows that outcome (locally it needs a host: it joins a running `nightshift serve` or starts one, as
//! `up` does) and exits 0 only when the environment reached the state asked for: a deploy's run succeeded, a
//! close or destroy left the environment `destroyed`, an extend or keep was applied. A rejection prints its reason
//! and exits 1.

use crate::cli::{Global, SendArgs};
use crate::progress::Progress;
use crate::session::Session;
use nightshift_app::{App, Mode, Settings};
use nightshift_core::messages::{RELEASES_QUEUE, RELEASE_SCHEMA};
use nightshift_core::ports::OutboundMessage;
use nightshift_core::run::{Run, RunStatus, Trigger};
use nightshift_core::{EnvironmentName, ProductName, RunId, Ttl};
use serde_json::{json, Map, Value};
use sha2::Digest;
use std::time::{Duration, Instant};

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

/// The store key of an action's outcome.
pub fn action_key(message_id: &str) -> String {
    let digest = sha2::Sha256::digest(message_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("actions/{hex}.json")
}

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

fn valid_message_id(id: &str) -> Result<String, String> {
    if id.is_empty() || id.len() > 128 || id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "--message-id {id:?}: give 1 to 128 characters without spaces"
        ));
    }
    Ok(id.to_string())
}

pub async fn run(
    g: &Global,
    action: Action,
    product: &str,
    environment: &str,
    send: &SendArgs,
) -> anyhow::Result<i32> {
    let requested_by = send.requested_by.clone().unwrap_or_else(default_identity);
    let body = match message(&action, product, environment, &requested_by) {
        Ok(b) => b,
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(2);
        }
    };
    let message_id = match send.message_id.as_deref().map(valid_message_id).transpose() {
        Ok(id) => id.unwrap_or_else(new_message_id),
        Err(why) => {
            eprintln!("error: {why}");
            return Ok(2);
        }
    };
    let mut settings: Settings = super::settings(g)?;
    if settings.mode == Mode::Local && std::env::var_os("NIGHTSHIFT_RUNNER").is_none() {
        if let Ok(exe) = std::env::current_exe() {
            settings.runner_command = vec![exe.display().to_string(), "runner".into()];
        }
    }
    let ports = nightshift_app::wiring::ports(&settings).await?;
    let text = body.to_string();
    if let Err(e) = ports
        .bus
        .send(OutboundMessage {
            queue: RELEASES_QUEUE.into(),
            body: text.clone(),
            message_id: message_id.clone(),
            correlation_id: None,
            scheduled_at: None,
        })
        .await
    {
        eprintln!(
            "error: sending the {} message to the {RELEASES_QUEUE} queue: {e}",
            action.name()
        );
        return Ok(1);
    }
    let say = |m: &str| {
        if send.json {
            eprintln!("{m}");
        } else {
            println!("{m}");
        }
    };
    say(&format!(
        "Sent {} {product}/{environment} as message {message_id} (requested by {}).",
        action.name(),
        body["requested_by"].as_str().unwrap_or_default()
    ));
    if !send.wait {
        if send.json {
            crate::output::print_json(&json!({
                "message_id": message_id, "action": action.name(), "product": product,
                "environment": environment, "message": body, "outcome": Value::Null,
            }));
        } else {
            println!(
                "Follow it with `nightshift environments` and `nightshift status`, or wait for it:"
            );
            println!(
                "  nightshift {} ... --wait --message-id {message_id}   (the same id is the same action: nothing is done twice)",
                action.name().replace("deploy", "release")
            );
        }
        return Ok(0);
    }

    let app_for_azure;
    let session = match settings.mode {
        Mode::Local => Some(Session::join_or_start(settings.clone(), send.port, &say).await?),
        Mode::Azure => None,
    };
    let app: &App = match &session {
        Some(s) => s.app(),
        None => {
            app_for_azure = App::new(ports, settings.clone());
            &app_for_azure
        }
    };
    let deadline = Instant::now() + Duration::from_secs(send.timeout);
    let outcome = wait(
        app,
        &action,
        product,
        environment,
        &message_id,
        deadline,
        &say,
    )
    .await;
    let code = match &outcome {
        Ok(o) => {
            say(&o.summary);
            if send.json {
                crate::output::print_json(&json!({
                    "message_id": message_id, "action": action.name(), "product": product,
                    "environment": environment, "outcome": o.outcome, "reason": o.reason,
                    "run_id": o.run_id, "expires_at": o.expires_at, "reached": o.reached,
                }));
            }
            if o.reached {
                0
            } else {
                1
            }
        }
        Err(why) => {
            eprintln!("error: {why}");
            1
        }
    };
    if let Some(s) = session {
        if matches!(s, Session::Own(_)) {
            drain(s.app(), deadline, &say).await;
        }
        s.shutdown().await;
    }
    Ok(code)
}

/// What came of an action.
pub struct Outcome {
    pub outcome: String,
    pub reason: Option<String>,
    pub run_id: Option<String>,
    pub expires_at: Option<String>,
    /// The environment reached the state asked for.
    pub reached: bool,
    pub summary: String,
}

/// A host started here is stopped only once no run is in flight and no release is queued.
async fn drain(app: &App, deadline: Instant, say: &dyn Fn(&str)) {
    let mut told = false;
    while Instant::now() < deadline {
        let active = app.repo.active_runs().await.map(|r| r.len()).unwrap_or(0);
        if active == 0 {
            return;
        }
        if !told {
            say(&format!(
                "Waiting for {active} other run(s) in flight before stopping the local host"
            ));
            told = true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The run a deploy message starts, as the planner names it (for a handler that journals no action records).
fn derived_run_id(
    app: &App,
    product: &str,
    environment: &str,
    version: &str,
    message_id: &str,
) -> Option<RunId> {
    let catalog = app.catalog().ok()?;
    let p = catalog.product(product)?;
    let env = EnvironmentName::parse(environment).ok()?;
    Some(nightshift_core::planner::run_id(
        &nightshift_core::planner::PlanRequest {
            product: p,
            environment: &env,
            trigger: Trigger::Release {
                version: version.to_string(),
                requested_by: String::new(),
                message_id: message_id.to_string(),
            },
            ttl: None,
            instance: &app.settings.instance,
            now: chrono::Utc::now(),
        },
    ))
}

async fn wait(
    app: &App,
    action: &Action,
    product: &str,
    environment: &str,
    message_id: &str,
    deadline: Instant,
    say: &dyn Fn(&str),
) -> Result<Outcome, String> {
    let key = action_key(message_id);
    let derived = match action {
        Action::Deploy { version, .. } => {
            derived_run_id(app, product, environment, version.trim(), message_id)
        }
        _ => None,
    };
    let mut progress = Progress::new(true);
    let mut record: Option<Value> = None;
    loop {
        if Instant::now() > deadline {
            return Err(format!(
                "no outcome for message {message_id} in time: is a host running? (`nightshift serve`; the outcome will be at {key})"
            ));
        }
        if record.is_none() {
            record = match app.repo.store().get(&key).await {
                Ok(Some(v)) => serde_json::from_slice(&v.bytes).ok(),
                _ => None,
            };
        }
        if let Some(rec) = &record {
            let text = |k: &str| rec[k].as_str().map(str::to_string);
            if rec["outcome"] == "rejected" {
                let reason = text("reason").unwrap_or_default();
                return Ok(Outcome {
                    outcome: "rejected".into(),
                    summary: format!("Rejected: {reason}"),
                    reason: Some(reason),
                    run_id: None,
                    expires_at: text("expires_at"),
                    reached: false,
                });
            }
        }
        // A rejection recorded the older way (a handler that journals no action records).
        if record.is_none() {
            if let Ok(rejected) = app.repo.rejected().await {
                if let Some(r) = rejected
                    .iter()
                    .find(|r| r.message_id == message_id && r.queue == RELEASES_QUEUE)
                {
                    return Ok(Outcome {
                        outcome: "rejected".into(),
                        summary: format!("Rejected: {}", r.reason),
                        reason: Some(r.reason.clone()),
                        run_id: None,
                        expires_at: None,
                        reached: false,
                    });
                }
            }
        }
        let applied = record.as_ref().is_some_and(|r| r["outcome"] == "applied");
        match action {
            Action::Deploy { .. } => {
                let run_id = record
                    .as_ref()
                    .and_then(|r| r["run_id"].as_str())
                    .and_then(|s| RunId::parse(s).ok())
                    .or_else(|| derived.clone());
                if let Some(id) = run_id {
                    if let Ok(Some(run)) = app.repo.run(&id).await {
                        for line in progress.changes(std::slice::from_ref(&run), false) {
                            say(&line);
                        }
                        if run.status.is_finished() {
                            return Ok(finished(&run, record.as_ref()));
                        }
                    }
                }
            }
            Action::Close | Action::Destroy => {
                let env = app
                    .repo
                    .environment(product, environment)
                    .await
                    .ok()
                    .flatten();
                if let Some(e) = env.filter(|e| e.status == "destroyed") {
                    // Only once the handler says it applied this message: an environment destroyed earlier (a
                    // sweep) says nothing about this request.
                    if applied {
                        return Ok(Outcome {
                            outcome: "applied".into(),
                            reason: None,
                            run_id: None,
                            expires_at: None,
                            reached: true,
                            summary: format!(
                                "Environment {product}/{environment} is destroyed ({}).",
                                e.destroyed_reason.unwrap_or_default()
                            ),
                        });
                    }
                }
            }
            Action::Extend { .. } | Action::Keep { .. } => {
                if applied {
                    let expires = record
                        .as_ref()
                        .and_then(|r| r["expires_at"].as_str().map(str::to_string));
                    return Ok(Outcome {
                        outcome: "applied".into(),
                        reason: None,
                        run_id: None,
                        summary: format!(
                            "Environment {product}/{environment} now expires at {}.",
                            expires.clone().unwrap_or_else(|| "-".into())
                        ),
                        expires_at: expires,
                        reached: true,
                    });
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn finished(run: &Run, record: Option<&Value>) -> Outcome {
    let ok = run.status == RunStatus::Succeeded;
    Outcome {
        outcome: "applied".into(),
        reason: run.reason.clone(),
        run_id: Some(run.id.to_string()),
        expires_at: record
            .and_then(|r| r["expires_at"].as_str().map(str::to_string))
            .or_else(|| {
                run.expires_at
                    .map(nightshift_core::expiry::tags::format_time)
            }),
        reached: ok,
        summary: if ok {
            format!(
                "Environment {}/{} is ready: version {} (run {}).",
                run.product,
                run.environment,
                run.trigger.version(),
                run.id
            )
        } else {
            format!(
                "Environment {}/{} is NOT ready: run {} failed: {}. Its logs: nightshift logs {}",
                run.product,
                run.environment,
                run.id,
                run.reason.clone().unwrap_or_default(),
                run.id
            )
        },
    }
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
