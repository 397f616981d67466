//! `on_failure` per environment: keep (the default), destroy after a grace, rollback for persistent environments;
//! and the recovery time, failure to ready again.

use crate::helpers::{fmt, World, CATALOG};
use chrono::Duration;
use nightshift_core::run::{RunStatus, Trigger};

#[tokio::test]
async fn by_default_a_failed_environment_stays_until_its_expiry() {
    let w = World::new();

    let run = w.build("m-1", "pr-7", "1.0.0", Some("check")).await;

    assert_eq!(run.status, RunStatus::Failed);
    let env = w.env("pr-7").await;
    assert_eq!(env.status, "failed");
    assert_eq!(env.expires_at, run.expires_at);
    assert_eq!(env.failed_at, run.finished_at);
    assert_eq!(w.tag("pr-7"), run.expires_at.map(fmt));
}

#[tokio::test]
async fn on_failure_destroy_moves_the_expiry_to_the_grace_and_the_sweep_tears_it_down_then() {
    let w = World::with_catalog(&CATALOG.replace(
        "pr: { kind: pull-request }",
        "pr: { kind: pull-request, on_failure: destroy, grace: 1h }",
    ));

    let run = w.build("m-1", "pr-7", "1.0.0", Some("check")).await;

    let failed_at = run.finished_at.unwrap();
    let env = w.env("pr-7").await;
    assert_eq!(env.expires_at, Some(failed_at + Duration::hours(1)));
    assert_eq!(env.expiry_reason.as_deref(), Some("failed"));
    assert_eq!(w.tag("pr-7"), Some(fmt(failed_at + Duration::hours(1))));
    let early = w
        .app
        .sweep(Some(failed_at + Duration::minutes(30)), false, 10)
        .await
        .unwrap();
    assert_eq!(early.deleted, 0, "not before the grace");
    let late = w
        .app
        .sweep(Some(failed_at + Duration::minutes(61)), false, 10)
        .await
        .unwrap();
    assert_eq!(late.deleted, 1);
    assert_eq!(w.env("pr-7").await.status, "destroyed");
}

#[tokio::test]
async fn keeping_a_failed_environment_overrides_on_failure_destroy() {
    let w = World::with_catalog(&CATALOG.replace(
        "pr: { kind: pull-request }",
        "pr: { kind: pull-request, on_failure: destroy, grace: 1h }",
    ));
    let run = w.build("m-1", "pr-7", "1.0.0", Some("check")).await;

    w.send(
        "m-2",
        "pr-7",
        r#""action":"keep","for":"2d","reason":"why did it fail""#,
    )
    .await;

    let report = w
        .app
        .sweep(
            Some(run.finished_at.unwrap() + Duration::hours(2)),
            false,
            10,
        )
        .await
        .unwrap();
    assert_eq!(report.deleted, 0);
    assert_eq!(w.env("pr-7").await.status, "failed");
}

#[tokio::test]
async fn on_failure_rollback_redeploys_the_last_good_version_and_records_the_recovery_time() {
    let w = World::with_catalog(&CATALOG.replace(
        "main: { kind: persistent }",
        "main: { kind: persistent, on_failure: rollback }",
    ));
    w.build("m-1", "main", "1.0.0", None).await;
    w.advance(Duration::hours(1));

    let failed = w.build("m-2", "main", "2.0.0", Some("check")).await;

    assert_eq!(failed.status, RunStatus::Failed);
    let rollback = w
        .runs()
        .await
        .into_iter()
        .find(|r| r.trigger.is_rollback())
        .expect("a rollback run was started");
    match &rollback.trigger {
        Trigger::Rollback {
            version,
            failed_run,
            requested_by,
        } => {
            assert_eq!(version, "1.0.0");
            assert_eq!(failed_run, &failed.id);
            assert!(requested_by.contains("on_failure: rollback"));
        }
        other => panic!("{other:?}"),
    }
    w.advance(Duration::minutes(10));
    let done = w.finish(&rollback.id, None).await;
    assert_eq!(done.status, RunStatus::Succeeded);
    let env = w.env("main").await;
    assert_eq!(
        (env.status.as_str(), env.version.as_deref()),
        ("ready", Some("1.0.0"))
    );
    let recovery = env.last_recovery.expect("recovery time recorded");
    assert_eq!(recovery.failed_run, failed.id.as_str());
    assert_eq!(recovery.recovered_by_run, done.id.as_str());
    assert_eq!(
        recovery.seconds,
        (done.finished_at.unwrap() - failed.finished_at.unwrap()).num_seconds()
    );
    assert!(recovery.seconds > 0);
    assert_eq!(env.failed_at, None);
}

#[tokio::test]
async fn a_failed_rollback_stays_failed_and_does_not_roll_back_again() {
    let w = World::with_catalog(&CATALOG.replace(
        "main: { kind: persistent }",
        "main: { kind: persistent, on_failure: rollback }",
    ));
    w.build("m-1", "main", "1.0.0", None).await;
    w.build("m-2", "main", "2.0.0", Some("check")).await;
    let rollback = w
        .runs()
        .await
        .into_iter()
        .find(|r| r.trigger.is_rollback())
        .unwrap();

    let done = w.finish(&rollback.id, Some("check")).await;

    assert_eq!(done.status, RunStatus::Failed);
    assert_eq!(w.runs().await.len(), 3, "no rollback of the rollback");
    assert_eq!(w.env("main").await.status, "failed");
    let notes = std::fs::read_to_string(w.state.join("notifications.jsonl")).unwrap();
    assert!(notes.contains("no rollback of a rollback"), "{notes}");
}
