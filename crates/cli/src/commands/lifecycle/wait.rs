//! `--wait`: follows an action's outcome in the journal until the environment reached the state asked for, or
//! the action was rejected: the handler's action record (`actions/<sha256>.json`), the deploy's run, the
//! environment record; and, for a handler that journals no action records yet, the deploy's derived run id and
//! the older rejection records.

use super::message::{action_key, Action};
use crate::progress::Progress;
use nightshift_app::App;
use nightshift_core::messages::RELEASES_QUEUE;
use nightshift_core::run::{Run, RunStatus, Trigger};
use nightshift_core::{EnvironmentName, RunId};
use serde_json::Value;
use std::time::{Duration, Instant};

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

pub async fn wait(
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
