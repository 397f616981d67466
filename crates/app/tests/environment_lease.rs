//! One run builds an environment at a time: the use cases with the local adapters.

use nightshift_app::{App, Settings};
use nightshift_core::run::{Run, RunStatus};
use std::collections::BTreeMap;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  app: { smoke: { command: [true] } }
environments:
  pr: { kind: pull-request }
"#;

fn release(version: &str) -> String {
    format!(
        r#"{{"schema":"nightshift.release/v1","product":"shop","environment":"pr-3","version":"{version}","requested_by":"ci"}}"#
    )
}

fn app(dir: &std::path::Path) -> App {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(dir.join("catalog/shop.yaml"), CATALOG).unwrap();
    let env: BTreeMap<&str, String> = [
        (
            "NIGHTSHIFT_STATE_DIR",
            dir.join("state").display().to_string(),
        ),
        (
            "NIGHTSHIFT_CATALOG",
            dir.join("catalog").display().to_string(),
        ),
        ("NIGHTSHIFT_RUNNER", "true".to_string()),
    ]
    .into();
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    App::new(nightshift_app::wiring::local(&settings), settings)
}

async fn runs(app: &App) -> Vec<Run> {
    app.repo.runs().await.unwrap()
}

#[tokio::test]
async fn a_second_release_waits_and_the_watchdog_starts_it_when_the_first_finished_but_its_hand_over_was_lost(
) {
    // Arrange: a first release runs; a second one for the same environment waits.
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let first = app.release(&release("1.0.0"), "m-1").await.unwrap();
    let second = app.release(&release("1.0.1"), "m-2").await.unwrap();
    assert_eq!(first.steps.len(), 1, "the first run dispatches its step");
    assert!(second.steps.is_empty(), "the second dispatches nothing yet");
    let all = runs(&app).await;
    let waiting = all
        .iter()
        .find(|r| r.status == RunStatus::Waiting)
        .expect("one run waits")
        .clone();
    let running = all
        .iter()
        .find(|r| r.status == RunStatus::Running)
        .expect("one run runs")
        .clone();

    // The first run finishes, but the process dies before handing the environment over (its document says
    // succeeded, its active marker and the waiting run are untouched).
    let mut done = running.clone();
    done.status = RunStatus::Succeeded;
    done.finished_at = Some(chrono::Utc::now());
    app.repo.put_run(&done).await.unwrap();

    // Act
    let out = app.watchdog().await.unwrap();

    // Assert: the waiting run started, and the finished one left the active index.
    assert_eq!(out.steps.len(), 1, "{:?}", out.logs);
    assert!(out.steps[0].contains(waiting.id.as_str()));
    let now = app.repo.run(&waiting.id).await.unwrap().unwrap();
    assert_eq!(now.status, RunStatus::Running);
    let active: Vec<String> = app
        .repo
        .active_runs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    assert_eq!(active, vec![waiting.id.to_string()]);
    // A second watchdog pass changes nothing more.
    assert!(app.watchdog().await.unwrap().steps.is_empty());
}

#[tokio::test]
async fn a_release_for_a_free_environment_takes_over_a_lease_left_by_a_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    app.release(&release("1.0.0"), "m-1").await.unwrap();
    let mut first = runs(&app).await.remove(0);
    first.status = RunStatus::Failed;
    app.repo.put_run(&first).await.unwrap();

    let out = app.release(&release("1.0.1"), "m-2").await.unwrap();

    assert_eq!(
        out.steps.len(),
        1,
        "the environment was free: {:?}",
        out.logs
    );
}

/// The result message of a step attempt, as the runner sends it.
fn succeeded(run: &Run, step: &str) -> String {
    let step = nightshift_core::StepName::parse(step).unwrap();
    let attempt = run.steps[&step].attempt;
    let now = chrono::Utc::now();
    serde_json::to_string(&nightshift_core::messages::StepEventMessage {
        schema: nightshift_core::messages::STEP_EVENT_SCHEMA.into(),
        run_id: run.id.clone(),
        step,
        attempt,
        outcome: nightshift_core::messages::StepOutcome::Succeeded,
        exit_code: Some(0),
        reason: None,
        permanent: false,
        outputs: BTreeMap::new(),
        started_at: now,
        finished_at: now,
        log: None,
    })
    .unwrap()
}

#[tokio::test]
async fn the_waiting_run_starts_through_its_environments_index_after_the_holder_finishes() {
    // Arrange: a run holds pr-3, a second one waits and is indexed under its environment. Its active marker is
    // removed, so only the index can find it.
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    app.release(&release("1.0.0"), "m-1").await.unwrap();
    app.release(&release("1.0.1"), "m-2").await.unwrap();
    let all = runs(&app).await;
    let holder = all.iter().find(|r| r.status == RunStatus::Running).unwrap();
    let waiting = all.iter().find(|r| r.status == RunStatus::Waiting).unwrap();
    let index = app.repo.store().list("waiting/shop/pr-3/").await.unwrap();
    assert_eq!(index, vec![nightshift_app::waiting::waiting_key(waiting)]);
    app.repo.clear_active(&waiting.id).await.unwrap();

    // Act: the holder's last step succeeds.
    let out = app
        .step_event(&succeeded(holder, "app"), "e-1")
        .await
        .unwrap();

    // Assert: the waiting run started and left the index.
    assert_eq!(out.steps.len(), 1, "{:?}", out.logs);
    assert!(out.steps[0].contains(waiting.id.as_str()));
    let started = app.repo.run(&waiting.id).await.unwrap().unwrap();
    assert_eq!(started.status, RunStatus::Running);
    assert!(app.repo.store().list("waiting/").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_waiting_run_missing_from_the_index_is_indexed_again_by_the_watchdog_and_a_stale_key_is_dropped(
) {
    // Arrange: the process died between indexing and marking (here: the key is lost), and a key remains for a
    // run that is not waiting (a crash after its start).
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    app.release(&release("1.0.0"), "m-1").await.unwrap();
    app.release(&release("1.0.1"), "m-2").await.unwrap();
    let all = runs(&app).await;
    let holder = all.iter().find(|r| r.status == RunStatus::Running).unwrap();
    let waiting = all.iter().find(|r| r.status == RunStatus::Waiting).unwrap();
    let key = nightshift_app::waiting::waiting_key(waiting);
    app.repo.store().delete(&key).await.unwrap();
    app.repo.mark_waiting(holder).await.unwrap();

    // Act: a watchdog pass, then the holder finishes.
    app.watchdog().await.unwrap();
    let keys = app.repo.store().list("waiting/").await.unwrap();
    assert!(
        keys.contains(&key),
        "the watchdog indexed it again: {keys:?}"
    );
    let out = app
        .step_event(&succeeded(holder, "app"), "e-1")
        .await
        .unwrap();

    // Assert
    assert!(
        out.steps.iter().any(|m| m.contains(waiting.id.as_str())),
        "{:?}",
        out.logs
    );
    assert!(app.repo.store().list("waiting/").await.unwrap().is_empty());
}
