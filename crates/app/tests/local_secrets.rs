//! Steps with `secrets:` run locally: local jobs read them from the local vault (`<state>/key-vault/<name>`), and a
//! step whose secret is missing fails at once, for good, naming the secret, instead of staying queued while its
//! dispatch is retried into the dead-letter queue. The use cases with the local adapters (real process jobs).

mod support;

use nightshift_app::App;
use nightshift_core::messages::StepMessage;
use nightshift_core::ports::{JobState, SecretValue};
use nightshift_core::run::{RunStatus, StepStatus};
use nightshift_core::{JobName, StepName};
use nightshift_local::secrets::LocalSecrets;
use std::path::Path;
use std::time::Duration;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  notify:
    smoke: { command: [true] }
    secrets: { API_KEY: sendgrid-api-key }
environments:
  pr: { kind: pull-request }
"#;

const RELEASE: &str = r#"{"schema":"nightshift.release/v1","product":"shop","environment":"pr-5","version":"1.0.0","requested_by":"ci"}"#;

/// The job's "runner" prints the variable the secret should be in: it exits 0 only when it is set.
fn app(dir: &Path) -> App {
    let settings = support::local_settings(dir, CATALOG, "printenv API_KEY");
    App::new(nightshift_app::wiring::local(&settings), settings)
}

fn notify() -> StepName {
    StepName::parse("notify").unwrap()
}

#[tokio::test]
async fn a_step_whose_secret_is_missing_from_the_local_vault_fails_at_once_naming_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let started = app.release(RELEASE, "m-1").await.unwrap();
    assert_eq!(started.steps.len(), 1);

    let out = app.dispatch(&started.steps[0], "d-1").await;

    let out = out.expect("the dispatch is settled, not retried");
    let run = app.repo.runs().await.unwrap().remove(0);
    let step = &run.steps[&notify()];
    assert_eq!(step.status, StepStatus::Failed, "{:?}", out.logs);
    let reason = step.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("sendgrid-api-key") && reason.contains("not retryable"),
        "{reason}"
    );
    assert_eq!(run.status, RunStatus::Failed);
    assert!(
        app.repo.active_runs().await.unwrap().is_empty(),
        "the run is finished: the watchdog leaves it alone"
    );
}

#[tokio::test]
async fn a_step_whose_secret_is_in_the_local_vault_gets_its_value_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    LocalSecrets::new(app.settings.key_vault_dir())
        .set(
            "sendgrid-api-key",
            &SecretValue::new("SG.value-1234".into()),
        )
        .unwrap();
    let started = app.release(RELEASE, "m-1").await.unwrap();

    app.dispatch(&started.steps[0], "d-1").await.unwrap();

    let msg: StepMessage = serde_json::from_str(&started.steps[0]).unwrap();
    let job = JobName::for_attempt(&msg.run_id, &msg.step, 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let state = loop {
        let s = app.ports.jobs.state(&job).await.unwrap();
        if matches!(s, JobState::Exited { .. }) || std::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let log = app.ports.jobs.logs(&job).await.unwrap();
    assert!(
        matches!(state, JobState::Exited { code: 0, .. }),
        "{state:?}: {log}"
    );
}

#[tokio::test]
async fn a_retry_whose_secret_was_removed_meanwhile_fails_at_once_too() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let vault = LocalSecrets::new(app.settings.key_vault_dir());
    vault
        .set(
            "sendgrid-api-key",
            &SecretValue::new("SG.value-1234".into()),
        )
        .unwrap();
    let started = app.release(RELEASE, "m-1").await.unwrap();
    app.dispatch(&started.steps[0], "d-1").await.unwrap();
    let msg: StepMessage = serde_json::from_str(&started.steps[0]).unwrap();
    let now = chrono::Utc::now();
    let failed = serde_json::json!({
        "schema": "nightshift.step-event/v1", "run_id": msg.run_id, "step": "notify", "attempt": 1,
        "outcome": "failed", "exit_code": 1, "reason": "smtp said no", "started_at": now, "finished_at": now,
    });
    app.step_event(&failed.to_string(), "e-1").await.unwrap();
    std::fs::remove_file(app.settings.key_vault_dir().join("sendgrid-api-key")).unwrap();
    let retry = serde_json::to_string(&StepMessage::new(&msg.run_id, &notify(), 2)).unwrap();

    app.dispatch(&retry, "d-2")
        .await
        .expect("settled, not retried");

    let run = app.repo.run(&msg.run_id).await.unwrap().unwrap();
    let step = &run.steps[&notify()];
    assert_eq!(step.status, StepStatus::Failed, "{:?}", step);
    assert!(step
        .reason
        .as_deref()
        .unwrap_or("")
        .contains("sendgrid-api-key"));
}
