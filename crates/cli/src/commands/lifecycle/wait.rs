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
                commit_time: None,
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
                        if run.status.is_finished()
                            && !environment_lags(app, product, environment, &run).await
                        {
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

/// Whether the environment's record still shows `run` under way: the run's end is written before the
/// bookkeeping that follows it updates the record, and a `--wait` that returned in between would send its caller to
/// `environments` to read `building`.
async fn environment_lags(app: &App, product: &str, environment: &str, run: &Run) -> bool {
    app.repo
        .environment(product, environment)
        .await
        .ok()
        .flatten()
        .is_some_and(|e| e.last_run == run.id.as_str() && e.status == "building")
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
    use nightshift_app::repo::EnvironmentRecord;
    use nightshift_app::Settings;
    use nightshift_core::catalog::Catalog;
    use nightshift_core::planner::{self, PlanRequest};

    const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  api: { smoke: { command: ["true"] } }
environments:
  pr: { kind: pull-request }
"#;

    #[tokio::test]
    async fn a_deploy_is_reported_once_the_environment_record_shows_its_run_ended_not_before() {
        // Arrange: the run's end is written; the environment's record still says `building`.
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let settings = Settings::from_lookup(|k| {
            (k == "NIGHTSHIFT_STATE_DIR").then(|| state.display().to_string())
        })
        .unwrap();
        let app = App::new(nightshift_app::wiring::local(&settings), settings);
        let catalog = Catalog::parse_files(&[("shop.yaml".into(), CATALOG.into())]).unwrap();
        let env = EnvironmentName::parse("pr-1").unwrap();
        let mut run = planner::plan(PlanRequest {
            product: catalog.product("shop").unwrap(),
            environment: &env,
            trigger: Trigger::Release {
                version: "1.0.0".into(),
                requested_by: "ci".into(),
                message_id: "m-1".into(),
                commit_time: None,
            },
            ttl: None,
            instance: "nightshift",
            now: chrono::Utc::now(),
        })
        .unwrap();
        run.status = RunStatus::Succeeded;
        run.finished_at = Some(chrono::Utc::now());
        assert!(app.repo.create_run(&run).await.unwrap());
        let record = serde_json::json!({ "outcome": "applied", "run_id": run.id.to_string() });
        app.repo
            .put_json(
                &action_key("m-1"),
                &record,
                nightshift_core::ports::Precondition::None,
            )
            .await
            .unwrap();
        let mut rec: EnvironmentRecord = serde_json::from_value(serde_json::json!({
            "product": "shop", "environment": "pr-1", "kind": "pull-request",
            "last_run": run.id.to_string(), "status": "building",
        }))
        .unwrap();
        app.repo.put_environment(&rec).await.unwrap();
        let (catch_up, waited) = (
            nightshift_app::repo::Repo::new(app.repo.store().clone()),
            Duration::from_millis(600),
        );
        let bookkeeping = tokio::spawn(async move {
            tokio::time::sleep(waited).await;
            rec.status = "ready".into();
            catch_up.put_environment(&rec).await.unwrap();
        });

        // Act
        let started = Instant::now();
        let deploy = Action::Deploy {
            version: "1.0.0".into(),
            ttl: None,
        };
        let outcome = wait(
            &app,
            &deploy,
            "shop",
            "pr-1",
            "m-1",
            Instant::now() + Duration::from_secs(30),
            &|_| {},
        )
        .await
        .unwrap();

        // Assert
        assert!(outcome.reached, "{}", outcome.summary);
        let now = app.repo.environment("shop", "pr-1").await.unwrap().unwrap();
        assert_eq!(
            now.status, "ready",
            "reported while the record said building"
        );
        assert!(started.elapsed() >= waited);
        bookkeeping.await.unwrap();
    }
}
