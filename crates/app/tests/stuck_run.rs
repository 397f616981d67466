//! A run whose document exists but whose first steps were never sent (the handler died in between) is started by
//! whoever sees it next: the scheduler's next firing, a redelivered release, or the watchdog. The use cases with
//! the local adapters; the fault is the one the trials found: the lease cannot be written once.

mod support;

use chrono::{DateTime, Utc};
use nightshift_app::App;
use nightshift_core::ports::Clock;
use nightshift_core::run::{RunStatus, StepStatus};
use nightshift_core::StepName;
use std::path::Path;
use std::sync::Arc;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  infra: { smoke: { command: [true] } }
  app: { needs: [infra], smoke: { command: [true] } }
environments:
  nightly:
    kind: nightly
    schedule: { at: "02:00", timezone: UTC }
  pr: { kind: pull-request }
"#;

fn step(name: &str) -> StepName {
    StepName::parse(name).unwrap()
}

struct Fixed(DateTime<Utc>);
impl Clock for Fixed {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

fn app(dir: &Path) -> App {
    let settings = support::local_settings(dir, CATALOG, "true");
    let mut ports = nightshift_app::wiring::local(&settings);
    ports.clock = Arc::new(Fixed("2026-11-21T03:00:00Z".parse().unwrap()));
    App::new(ports, settings)
}

/// Makes the lease impossible to write: a file where the `leases/` directory should be.
fn break_leases(dir: &Path) -> std::path::PathBuf {
    let leases = dir.join("state/store/leases");
    std::fs::create_dir_all(leases.parent().unwrap()).unwrap();
    std::fs::write(&leases, "not a directory").unwrap();
    leases
}

#[tokio::test]
async fn a_nightly_run_left_unstarted_by_a_failed_lease_write_is_started_by_the_second_firing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let leases = break_leases(dir.path());
    assert!(
        app.nightly().await.is_err(),
        "the first firing fails after creating the run"
    );
    let run = app.repo.runs().await.unwrap().remove(0);
    assert!(run.steps.values().all(|s| s.status == StepStatus::Pending));
    std::fs::remove_file(&leases).unwrap();

    let second = app.nightly().await.unwrap();

    assert_eq!(
        second.steps.len(),
        1,
        "the second firing sends the first step: {:?}",
        second.logs
    );
    assert!(second.steps[0].contains("infra"));
    let now = app.repo.run(&run.id).await.unwrap().unwrap();
    assert_eq!(now.steps[&step("infra")].status, StepStatus::Queued);
    // A third firing starts nothing new: it only re-sends what is still queued.
    let third = app.nightly().await.unwrap();
    assert_eq!(third.steps, second.steps);
    let again = app.repo.run(&run.id).await.unwrap().unwrap();
    assert_eq!(again.steps[&step("infra")].attempt, 1);
}

#[tokio::test]
async fn a_nightly_run_left_unstarted_is_started_by_the_watchdog_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let leases = break_leases(dir.path());
    assert!(app.nightly().await.is_err());
    std::fs::remove_file(&leases).unwrap();

    let out = app.watchdog().await.unwrap();

    assert_eq!(out.steps.len(), 1, "{:?}", out.logs);
    assert!(out.steps[0].contains("infra"));
    let run = app.repo.runs().await.unwrap().remove(0);
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.steps[&step("infra")].status, StepStatus::Queued);
    assert_eq!(
        app.repo
            .environment("shop", "nightly")
            .await
            .unwrap()
            .unwrap()
            .status,
        "building",
        "the environment record is written when the run starts"
    );
    // The next pass does not start it again (the step is queued; its dispatch is not yet overdue).
    let next = app.watchdog().await.unwrap();
    assert!(next.steps.is_empty(), "{:?}", next.logs);
    assert_eq!(
        app.repo.run(&run.id).await.unwrap().unwrap().journal.len(),
        run.journal.len()
    );
}

#[tokio::test]
async fn a_release_left_unstarted_is_started_by_its_redelivery() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let leases = break_leases(dir.path());
    let body = r#"{"schema":"nightshift.release/v1","product":"shop","environment":"pr-7","version":"1.0.0","requested_by":"ci"}"#;
    assert!(app.release(body, "m-1").await.is_err());
    std::fs::remove_file(&leases).unwrap();

    let out = app.release(body, "m-1").await.unwrap();

    assert_eq!(out.steps.len(), 1, "{:?}", out.logs);
}
