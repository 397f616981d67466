//! Step dispatch (`App::dispatch`) and the job watchdog (`App::watchdog`) over `AciJobs` against the REST
//! contract (the loopback fake follows the documented Container Instances API; no emulator exists): a container
//! group per attempt, and a job that dies without reporting a result.

use crate::fake_arm::{spawn_fake_arm, FakeArm};
use crate::{aci_settings, arm_client, spawn_app, TestApp};
use nightshift_app::repo::log_key;
use nightshift_azure::AciJobs;
use nightshift_core::engine::{Command, Event};
use nightshift_core::messages::StepMessage;
use nightshift_core::names::{EnvironmentName, JobName, StepName};
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::run::{Run, RunStatus, StepStatus, Trigger};
use std::sync::Arc;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: azure
steps:
  db:
    retries: 0
    terraform: { stack: stacks/db }
environments:
  pr: { kind: pull-request }
"#;

/// What the container printed before it died: Terraform's error is its last line.
const JOB_LOG: &str = "nightshift runner: shop.pr-42 db attempt 1\n\
terraform init: ok\n\
terraform apply: creating azurerm_mssql_server.this\n\
Error: creating Server: unexpected status 409 (QuotaExceeded)\n";

fn app_on(fake: &FakeArm) -> TestApp {
    let arm = arm_client(fake);
    spawn_app(
        CATALOG,
        &[("NIGHTSHIFT_WATCHDOG_RESULT_GRACE_SECS", "0")],
        |ports| {
            ports.jobs = Arc::new(AciJobs::new(arm, aci_settings()));
        },
    )
}

/// Plans a run of `shop` in `pr-42`, stores it and starts it; returns it with its first dispatch message.
async fn started_run(t: &TestApp) -> (Run, StepMessage) {
    let catalog = t.app.catalog().unwrap();
    let run = planner::plan(PlanRequest {
        product: catalog.product("shop").unwrap(),
        environment: &EnvironmentName::parse("pr-42").unwrap(),
        trigger: Trigger::Release {
            version: "1.4.2".into(),
            requested_by: "pipeline".into(),
            message_id: "release-1".into(),
            commit_time: None,
        },
        ttl: None,
        instance: &t.app.settings.instance,
        now: t.app.now(),
    })
    .unwrap();
    assert!(t.app.repo.create_run(&run).await.unwrap());
    let (run, commands, _) = t
        .app
        .repo
        .apply(&run.id, &Event::Start, t.app.now())
        .await
        .unwrap()
        .unwrap();
    let dispatch = commands
        .into_iter()
        .find_map(|c| match c {
            Command::Dispatch(m) => Some(m),
            _ => None,
        })
        .expect("the first step is dispatched");
    (std::sync::Arc::unwrap_or_clone(run), dispatch)
}

#[tokio::test]
async fn a_job_that_exits_with_code_1_becomes_a_failed_step_with_its_log_attached() {
    // Arrange: the step's container group runs; then it ends with exit code 1, and no result message ever comes.
    let fake = spawn_fake_arm().await;
    let t = app_on(&fake);
    let (run, dispatch) = started_run(&t).await;
    let body = serde_json::to_string(&dispatch).unwrap();
    t.app.dispatch(&body, &dispatch.message_id()).await.unwrap();
    let step = StepName::parse("db").unwrap();
    let job = JobName::for_attempt(&run.id, &step, 1);
    fake.finish_job(job.as_str(), 1, JOB_LOG);

    // Act
    t.app.watchdog().await.unwrap();

    // Assert: the step failed for good (retries: 0), saying why and where the log is, and the log is kept.
    let run = t.app.run(&run.id).await.unwrap().unwrap();
    let s = &run.steps[&step];
    assert_eq!(s.status, StepStatus::Failed);
    let reason = s.reason.as_deref().unwrap();
    let key = log_key(&run.id, &step, 1);
    assert!(reason.contains("exited with code 1"), "{reason}");
    assert!(
        reason.contains("Error: creating Server: unexpected status 409 (QuotaExceeded)"),
        "the log's last line is in the reason: {reason}"
    );
    assert!(reason.contains(&key), "{reason}");
    assert_eq!(run.status, RunStatus::Failed);
    assert!(
        run.journal
            .iter()
            .any(|e| e.step.as_ref() == Some(&step) && e.to == "failed"),
        "{:#?}",
        run.journal
    );
    let stored = t
        .app
        .ports
        .store
        .get(&key)
        .await
        .unwrap()
        .expect("log stored");
    assert_eq!(String::from_utf8(stored.bytes).unwrap(), JOB_LOG);
    assert_eq!(
        fake.requests_to(
            "GET",
            &format!("/containerGroups/{job}/containers/runner/logs")
        )
        .len(),
        1
    );
}

#[tokio::test]
async fn a_redelivered_dispatch_puts_one_container_group() {
    // Arrange
    let fake = spawn_fake_arm().await;
    let t = app_on(&fake);
    let (run, dispatch) = started_run(&t).await;
    let body = serde_json::to_string(&dispatch).unwrap();

    // Act: the same message, delivered twice.
    t.app.dispatch(&body, &dispatch.message_id()).await.unwrap();
    t.app.dispatch(&body, &dispatch.message_id()).await.unwrap();

    // Assert
    let job = JobName::for_attempt(&run.id, &dispatch.step, 1);
    let puts = fake.requests_to("PUT", "/containerGroups/");
    assert_eq!(puts.len(), 1, "one container group for the attempt");
    assert!(
        puts[0].path.ends_with(&format!("/containerGroups/{job}")),
        "{}",
        puts[0].path
    );
    let run = t.app.run(&run.id).await.unwrap().unwrap();
    assert_eq!(run.steps[&dispatch.step].status, StepStatus::Running);
    assert_eq!(run.steps[&dispatch.step].attempts.len(), 1);
}
