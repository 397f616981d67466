//! Tests of the metrics over hand-shaped runs (the end-to-end test in crates/cli/tests/e2e/metrics.rs builds its
//! journal by running the local service).

use super::*;
use crate::catalog::{tests::DEMO, Catalog};
use crate::names::{EnvironmentName, StepName};
use crate::planner::{plan, PlanRequest};
use crate::run::{Attempt, JournalEntry, Trigger};
use chrono::{Duration, TimeZone};
use serde_json::json;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 1, 0, 0).unwrap()
}

/// A run of `env` created at t0 + `at` minutes, finished `took` minutes later with `status`.
fn run(env: &str, at: i64, took: Option<i64>, status: RunStatus, version: &str) -> Run {
    let product = Catalog::parse_files(&[("c.yaml".into(), DEMO.into())])
        .unwrap()
        .products[0]
        .clone();
    let env = EnvironmentName::parse(env).unwrap();
    let created = t0() + Duration::minutes(at);
    let mut r = plan(PlanRequest {
        product: &product,
        environment: &env,
        trigger: Trigger::Release {
            version: version.into(),
            requested_by: "ci".into(),
            message_id: format!("m-{version}-{at}"),
            commit_time: None,
        },
        ttl: None,
        instance: "nightshift",
        now: created,
    })
    .unwrap();
    r.status = status;
    r.finished_at = took.map(|m| created + Duration::minutes(m));
    r
}

fn ok(env: &str, at: i64, took: i64) -> Run {
    run(
        env,
        at,
        Some(took),
        RunStatus::Succeeded,
        &format!("1.{at}"),
    )
}

fn failed(env: &str, at: i64, took: i64) -> Run {
    run(env, at, Some(took), RunStatus::Failed, &format!("1.{at}"))
}

fn attempt(n: u32, outcome: &str) -> Attempt {
    Attempt {
        attempt: n,
        job: crate::names::JobName::from_existing(&format!("job-{n}")),
        started_at: None,
        finished_at: None,
        outcome: Some(outcome.into()),
        reason: None,
    }
}

#[test]
fn the_nearest_rank_percentile_is_a_value_of_the_sample() {
    let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
    assert_eq!(percentile(&v, 50.0), Some(5.0));
    assert_eq!(percentile(&v, 90.0), Some(9.0));
    assert_eq!(percentile(&[7.0], 90.0), Some(7.0));
    assert_eq!(percentile(&[], 50.0), None);
}

#[test]
fn success_rate_and_durations_count_finished_runs_only() {
    let runs = vec![
        ok("main", 0, 10),
        failed("main", 20, 4),
        ok("pr-1", 30, 6),
        run("pr-2", 40, None, RunStatus::Running, "2.0"),
    ];
    let m = compute(
        &runs,
        &[],
        &[],
        &Filter::default(),
        t0() + Duration::days(1),
    );
    assert_eq!(
        (m.deployments, m.succeeded, m.failed, m.in_progress),
        (3, 2, 1, 1)
    );
    assert_eq!(m.success_rate, Some(2.0 / 3.0));
    assert_eq!(m.deployment_duration.count, 3);
    assert_eq!(m.deployment_duration.p50_secs, Some(360.0));
    assert_eq!(m.deployment_duration.p90_secs, Some(600.0));
    assert_eq!(m.time_to_ready.count, 2);
}

#[test]
fn time_to_ready_includes_the_wait_for_the_environment_and_deployment_duration_does_not() {
    let mut r = ok("main", 0, 30);
    r.journal.push(JournalEntry {
        at: t0() + Duration::minutes(20),
        step: None,
        attempt: None,
        from: "waiting".into(),
        to: "running".into(),
        reason: None,
    });
    let m = compute(&[r], &[], &[], &Filter::default(), t0() + Duration::days(1));
    assert_eq!(m.time_to_ready.p50_secs, Some(1800.0));
    assert_eq!(m.deployment_duration.p50_secs, Some(600.0));
}

#[test]
fn recovery_runs_from_the_first_failure_of_a_streak_to_the_next_success_of_the_same_environment() {
    let runs = vec![
        failed("main", 0, 5),  // finishes at 5
        failed("main", 10, 5), // same streak
        failed("pr-1", 0, 1),  // another environment, never recovered
        ok("pr-2", 0, 1),
        ok("main", 30, 10), // finishes at 40: recovery 35 min after the first failure
    ];
    let m = compute(
        &runs,
        &[],
        &[],
        &Filter::default(),
        t0() + Duration::days(1),
    );
    assert_eq!(m.recovery.recovered, 1);
    assert_eq!(m.recovery.unrecovered, 1);
    assert_eq!(m.recovery.time.p50_secs, Some(35.0 * 60.0));
}

#[test]
fn a_smoke_step_that_failed_then_passed_on_retry_is_a_false_positive() {
    let smoke = StepName::parse("smoke").unwrap();
    let mut flaky = ok("main", 0, 10);
    flaky.steps.get_mut(&smoke).unwrap().attempts =
        vec![attempt(1, "failed"), attempt(2, "succeeded")];
    let mut real = failed("pr-1", 0, 10);
    real.steps.get_mut(&smoke).unwrap().attempts = vec![attempt(1, "failed"), attempt(2, "failed")];
    let mut clean = ok("pr-2", 0, 10);
    clean.steps.get_mut(&smoke).unwrap().attempts = vec![attempt(1, "succeeded")];
    // A non-smoke step that failed then passed is not a check.
    let db = StepName::parse("db").unwrap();
    clean.steps.get_mut(&db).unwrap().attempts =
        vec![attempt(1, "failed"), attempt(2, "succeeded")];
    let m = compute(
        &[flaky, real, clean],
        &[],
        &[],
        &Filter::default(),
        t0() + Duration::days(1),
    );
    assert_eq!(
        (m.checks.runs, m.checks.failed, m.checks.false_positives),
        (3, 2, 1)
    );
    assert_eq!(m.checks.false_positive_rate, Some(0.5));
}

#[test]
fn a_trigger_that_says_rollback_by_type_or_flag_is_a_rollback_and_a_release_is_not() {
    assert!(trigger_is_rollback(
        &json!({"type": "rollback", "to_version": "1.0"})
    ));
    assert!(trigger_is_rollback(
        &json!({"type": "release", "rollback": {"from": "1.1"}})
    ));
    assert!(trigger_is_rollback(
        &json!({"type": "release", "rollback": true})
    ));
    assert!(!trigger_is_rollback(
        &json!({"type": "release", "rollback": false})
    ));
    assert!(!trigger_is_rollback(
        &json!({"type": "release", "version": "1.0"})
    ));
    let r = ok("main", 0, 4);
    assert!(!is_rollback(&r));
    let m = compute(&[r], &[], &[], &Filter::default(), t0() + Duration::days(1));
    assert_eq!(m.rollbacks.count, 0);
}

#[test]
fn change_lead_time_runs_from_the_commit_to_the_environment_being_ready() {
    let mut r = ok("main", 60, 10);
    if let Trigger::Release { commit_time, .. } = &mut r.trigger {
        *commit_time = Some(t0());
    }
    let without = ok("pr-1", 0, 10);
    let m = compute(
        &[r, without],
        &[],
        &[],
        &Filter::default(),
        t0() + Duration::days(1),
    );
    assert_eq!(m.change_lead_time.count, 1);
    assert_eq!(m.change_lead_time.p50_secs, Some(70.0 * 60.0));
}

#[test]
fn the_filter_keeps_runs_since_a_time_of_one_product_and_environment() {
    let runs = vec![ok("main", 0, 1), ok("main", 120, 1), ok("pr-1", 120, 1)];
    let filter = Filter {
        since: Some(t0() + Duration::minutes(60)),
        product: Some("shop".into()),
        environment: Some("main".into()),
    };
    let m = compute(&runs, &[], &[], &filter, t0() + Duration::days(1));
    assert_eq!(m.deployments, 1);
    let other = Filter {
        product: Some("other".into()),
        ..Filter::default()
    };
    assert_eq!(compute(&runs, &[], &[], &other, t0()).deployments, 0);
}

#[test]
fn notification_delays_are_read_from_delivery_records_of_either_shape() {
    let records = [
        json!({"product": "shop", "environment": "main", "event_at": "2026-11-21T01:00:00Z",
               "delivered_at": "2026-11-21T01:00:02Z"}),
        json!({"product": "shop", "environment": "main", "at": "2026-11-21T01:00:00Z", "delay_ms": 500}),
        json!({"product": "shop", "environment": "main", "status": "failed"}),
        json!({"something": "else"}),
    ];
    let samples: Vec<_> = records
        .iter()
        .filter_map(NotificationSample::from_record)
        .collect();
    assert_eq!(samples.len(), 3);
    let m = compute(&[], &samples, &[], &Filter::default(), t0());
    assert_eq!(m.notifications.records, 3);
    assert_eq!(m.notifications.delay.count, 2);
    assert_eq!(m.notifications.delay.p50_secs, Some(0.5));
    assert_eq!(m.notifications.delay.p90_secs, Some(2.0));
    assert_eq!(m.success_rate, None, "no deployments, no rate");
}

#[test]
fn actions_are_counted_by_kind_within_the_filter_and_records_without_a_kind_are_skipped() {
    let records = [
        json!({"action": "extend", "product": "shop", "environment": "pr-1", "at": "2026-11-21T02:00:00Z"}),
        json!({"action": "extend", "product": "shop", "environment": "pr-2", "at": "2026-11-21T02:00:00Z"}),
        json!({"kind": "keep", "product": "shop", "environment": "pr-1"}),
        json!({"product": "shop"}),
    ];
    let actions: Vec<_> = records
        .iter()
        .filter_map(ActionSample::from_record)
        .collect();
    assert_eq!(actions.len(), 3);
    let all = compute(&[], &[], &actions, &Filter::default(), t0());
    assert_eq!(all.actions.get("extend"), Some(&2));
    assert_eq!(all.actions.get("keep"), Some(&1));
    let pr1 = Filter {
        environment: Some("pr-1".into()),
        ..Filter::default()
    };
    let m = compute(&[], &[], &actions, &pr1, t0());
    assert_eq!(m.actions.get("extend"), Some(&1));
}
