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
