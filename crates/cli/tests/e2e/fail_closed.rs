//! Fail closed, on the real protocol: a run whose first start was cut short is started by whoever sees it next, and
//! a step whose secret is missing fails at once with the secret's name instead of filling the dead-letter queue.

use crate::helpers::*;
use nightshift_core::run::{RunStatus, StepStatus};
use nightshift_core::StepName;
use std::time::Duration;

/// Makes the environment's lease impossible to write: a file where the store's `leases/` directory goes.
fn break_leases(app: &TestApp) -> std::path::PathBuf {
    let leases = app.stack.app.settings.store_dir().join("leases");
    std::fs::create_dir_all(leases.parent().unwrap()).unwrap();
    std::fs::write(&leases, "in the way").unwrap();
    leases
}

async fn fire(app: &TestApp, function: &str) -> bool {
    app.stack
        .host
        .invoke_timer(function)
        .await
        .expect("the timer fires")
        .succeeded
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nightly_run_cut_short_before_its_first_steps_is_started_by_the_next_firing_and_finishes()
{
    let app = spawn_app(Options::new(diamond())).await;
    let leases = break_leases(&app);
    assert!(
        !fire(&app, "nightly-scheduler").await,
        "the first firing fails after creating the run"
    );
    assert_eq!(app.runs().await.len(), 1);
    std::fs::remove_file(&leases).unwrap();

    assert!(fire(&app, "nightly-scheduler").await);
    let run = app.finished_run(Duration::from_secs(90)).await;

    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.reason);
    let starts = app.runner_starts();
    assert_eq!(starts.len(), 4, "{starts:?}");
    assert!(starts.values().all(|n| *n == 1), "{starts:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nightly_run_cut_short_before_its_first_steps_is_started_by_the_watchdog_and_finishes() {
    let app = spawn_app(Options::new(diamond())).await;
    let leases = break_leases(&app);
    assert!(!fire(&app, "nightly-scheduler").await);
    std::fs::remove_file(&leases).unwrap();

    assert!(fire(&app, "job-watchdog").await);
    let run = app.finished_run(Duration::from_secs(90)).await;

    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.reason);
    assert!(app.runner_starts().values().all(|n| *n == 1));
    app.shutdown().await;
}

fn secret_catalog() -> String {
    shell_catalog(
        "  notify:\n    smoke:\n      command: [sh, -c, \"test \\\"$API_KEY\\\" = from-the-vault\"]\n    secrets: { API_KEY: notify-api-key }\n",
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_whose_secret_is_missing_locally_fails_at_once_naming_it_and_nothing_is_dead_lettered(
) {
    let app = spawn_app(Options::new(secret_catalog())).await;
    app.fire_nightly().await;
    let run = app.finished_run(Duration::from_secs(60)).await;

    assert_eq!(run.status, RunStatus::Failed);
    let step = &run.steps[&StepName::parse("notify").unwrap()];
    assert_eq!(step.status, StepStatus::Failed);
    let reason = step.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("notify-api-key") && reason.contains("key-vault"),
        "the reason names the secret and where it goes: {reason}"
    );
    assert_eq!(step.attempts.len(), 1, "not retried: {:?}", step.attempts);
    assert!(app.jobs().is_empty(), "no job started: {:?}", app.jobs());
    let dead = app
        .stack
        .host
        .bus()
        .queue("steps")
        .unwrap()
        .dead_letters()
        .unwrap();
    assert!(dead.is_empty(), "{dead:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_whose_secret_is_in_the_local_vault_gets_it_and_succeeds() {
    let app = spawn_app(Options::new(secret_catalog())).await;
    nightshift_local::secrets::LocalSecrets::new(app.stack.app.settings.key_vault_dir())
        .set(
            "notify-api-key",
            &nightshift_core::ports::SecretValue::new("from-the-vault".into()),
        )
        .unwrap();
    app.fire_nightly().await;
    let run = app.finished_run(Duration::from_secs(60)).await;

    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.reason);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_message_file_is_dead_lettered_with_its_reason_and_the_run_still_finishes() {
    let app = spawn_app(Options::new(diamond())).await;
    let steps = app.stack.host.bus().queue("steps").unwrap();
    // Sorts before every message the run will send.
    std::fs::write(
        steps.dir().join("messages/00000000000000000000.json"),
        "{\"sequence_number\": 0, \"body\": \"cut sh",
    )
    .unwrap();

    app.fire_nightly().await;
    let run = app.finished_run(Duration::from_secs(90)).await;

    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.reason);
    let dead = steps.dead_letters().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].reason, nightshift_local::queue::CORRUPT_MESSAGE);
    assert!(dead[0].description.contains("00000000000000000000.json"));
    app.shutdown().await;
}

#[test]
fn a_sweep_with_a_garbled_environment_record_prints_its_report_keeps_that_environment_and_deletes_and_records_the_rest(
) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cloud = nightshift_local::cloud::LocalCloud::new(state.join("cloud"));
    for env in ["pr-1", "pr-2"] {
        let tags: std::collections::BTreeMap<String, String> = [
            ("nightshift-managed-by", "nightshift"),
            ("nightshift-product", "orthense-demo"),
            ("nightshift-environment", env),
            ("nightshift-run", "orthense-demo.x.n1"),
            ("nightshift-kind", "pull-request"),
            ("nightshift-expires-at", "2026-11-20T00:00:00Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        cloud
            .create_group(&format!("rg-orthense-demo-{env}"), &tags)
            .unwrap();
        let record = if env == "pr-1" {
            "{\"product\": \"orthense-demo\", \"envir".to_string()
        } else {
            serde_json::json!({
                "product": "orthense-demo", "environment": env, "kind": "pull-request", "last_run": "r",
                "status": "ready", "expires_at": "2026-11-20T00:00:00Z", "destroyed_at": null,
                "destroyed_reason": null,
            })
            .to_string()
        };
        let path = state.join(format!("store/environments/orthense-demo/{env}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, record).unwrap();
    }

    let out = std::process::Command::new(nightshift_bin())
        .args(["sweep", "--now", "2026-11-21T00:00:00Z", "--state-dir"])
        .arg(&state)
        .current_dir(repo_root())
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("rg-orthense-demo-pr-1")
            && stdout.contains("environments/orthense-demo/pr-1.json")
            && stdout.contains("rg-orthense-demo-pr-2")
            && stdout.contains("1 deleted"),
        "the report is printed, the bad record named: {stdout}{stderr}"
    );
    // The product has a layer owning resources outside its groups (dns): without the record, which of them a
    // build applied is unknown, so pr-1's group and state stay (fail closed).
    assert!(stdout.contains("groups and state kept"), "{stdout}");
    let left: Vec<String> = cloud
        .list_all()
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(left, vec!["rg-orthense-demo-pr-1".to_string()]);
    let pr2 =
        std::fs::read_to_string(state.join("store/environments/orthense-demo/pr-2.json")).unwrap();
    assert!(pr2.contains("destroyed"), "{pr2}");
}
