//! Delivery metrics over the journal: deployments, success rate, durations, time to ready, recovery, rollbacks,
//! change lead time, notification delay and the false-positive rate of checks (docs/metrics.md says what each one
//! means and which DORA metric it serves).
//!
//! Pure: run documents, notification delivery records and action records in, a report out. The use case reads the store; this module only
//! counts, so every figure is testable without I/O.

use crate::run::{Run, RunStatus};
use crate::run_digest::RunDigest;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Which runs count: created at or after `since`, of this product and environment when given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub since: Option<DateTime<Utc>>,
    pub product: Option<String>,
    pub environment: Option<String>,
}

impl Filter {
    fn keeps(&self, at: Option<DateTime<Utc>>, product: Option<&str>, env: Option<&str>) -> bool {
        let time_ok = match (self.since, at) {
            (Some(since), Some(at)) => at >= since,
            _ => true,
        };
        let product_ok = match (&self.product, product) {
            (Some(want), Some(p)) => want == p,
            (Some(_), None) => false,
            _ => true,
        };
        let env_ok = match (&self.environment, env) {
            (Some(want), Some(e)) => want == e,
            (Some(_), None) => false,
            _ => true,
        };
        time_ok && product_ok && env_ok
    }
}

/// A distribution of durations in seconds: how many, median and 90th percentile (nearest rank), none when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    pub count: usize,
    pub p50_secs: Option<f64>,
    pub p90_secs: Option<f64>,
}

impl Durations {
    pub fn of(mut secs: Vec<f64>) -> Self {
        secs.retain(|s| s.is_finite());
        secs.sort_by(|a, b| a.total_cmp(b));
        Self {
            count: secs.len(),
            p50_secs: percentile(&secs, 50.0),
            p90_secs: percentile(&secs, 90.0),
        }
    }
}

/// Nearest-rank percentile of sorted values: the smallest value with at least `p`% of the values at or below it.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// One notification delivery, as recorded under `notifications/` (fields read leniently: the record's writer
/// may add more).
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationSample {
    pub at: Option<DateTime<Utc>>,
    pub product: Option<String>,
    pub environment: Option<String>,
    /// Event to 2xx, when delivered.
    pub delay_secs: Option<f64>,
}

impl NotificationSample {
    /// Reads a delivery record: `delay_ms`, or `event_at` and `delivered_at`; `product`, `environment`, and the
    /// time from `event_at` or `at`. None when it says nothing about delivery.
    pub fn from_record(v: &Value) -> Option<Self> {
        let time = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let event_at = time("event_at");
        let delay_secs = v
            .get("delay_ms")
            .and_then(Value::as_f64)
            .map(|ms| ms / 1000.0)
            .or_else(|| {
                let (from, to) = (event_at?, time("delivered_at")?);
                Some((to - from).num_milliseconds() as f64 / 1000.0)
            });
        if delay_secs.is_none() && v.get("delivered_at").is_none() && v.get("status").is_none() {
            return None;
        }
        Some(Self {
            at: event_at.or_else(|| time("at")),
            product: text("product"),
            environment: text("environment"),
            delay_secs,
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// Failure streaks (one or more failed runs of an environment in a row) that a later success ended.
    pub recovered: usize,
    /// Failure streaks no success has ended yet.
    pub unrecovered: usize,
    /// First failure of the streak -> the next success of the same environment.
    pub time: Durations,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Rollbacks {
    pub count: usize,
    pub succeeded: usize,
    /// Received -> finished, for finished rollbacks.
    pub duration: Durations,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    /// Smoke steps that ran (at least one attempt).
    pub runs: usize,
    /// Smoke steps with at least one failed attempt.
    pub failed: usize,
    /// Of those, the ones that passed on a retry in the same run (same version, same inputs: nothing changed).
    pub false_positives: usize,
    /// false_positives / failed; none when no check failed.
    pub false_positive_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notifications {
    /// Delivery records seen.
    pub records: usize,
    /// Event -> the webhook's 2xx, for the delivered ones.
    pub delay: Durations,
}

/// One record of the action journal (`actions/`: extend, keep, ... asked from a chat message or the CLI), read
/// leniently: only its kind, scope and time are counted.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionSample {
    pub action: String,
    pub at: Option<DateTime<Utc>>,
    pub product: Option<String>,
    pub environment: Option<String>,
}

impl ActionSample {
    /// Reads `action` (or `kind`), `at`, `product`, `environment`; None without an action name.
    pub fn from_record(v: &Value) -> Option<Self> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Self {
            action: text("action").or_else(|| text("kind"))?,
            at: v
                .get("at")
                .and_then(Value::as_str)
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc)),
            product: text("product"),
            environment: text("environment"),
        })
    }
}

/// Every figure `nightshift metrics` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsReport {
    pub filter: Filter,
    pub generated_at: DateTime<Utc>,
    /// Finished runs (nightly, release and rollback).
    pub deployments: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Waiting or running now (not counted in the rates).
    pub in_progress: usize,
    /// succeeded / deployments; none without deployments.
    pub success_rate: Option<f64>,
    /// Succeeded deployments per day over the window (the window starts at the filter's `since`, or the first run).
    pub deployments_per_day: Option<f64>,
    /// Building time: running -> finished (queueing excluded), every finished run.
    pub deployment_duration: Durations,
    /// Release received -> environment ready (queueing included), succeeded runs.
    pub time_to_ready: Durations,
    pub recovery: Recovery,
    pub rollbacks: Rollbacks,
    /// Commit -> environment ready, for succeeded releases that gave `commit_time`.
    pub change_lead_time: Durations,
    pub notifications: Notifications,
    pub checks: Checks,
    /// Actions recorded under `actions/` (extend, keep, ...), by kind; empty until actions are recorded.
    pub actions: BTreeMap<String, usize>,
}

fn secs_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

/// When the run began building: the end of its wait for the environment, or its creation if it never waited.
pub fn building_since(run: &Run) -> DateTime<Utc> {
    run.journal
        .iter()
        .rev()
        .find(|j| j.step.is_none() && j.from == "waiting" && j.to == "running")
        .map(|j| j.at)
        .unwrap_or(run.created_at)
}

/// A rollback run: its trigger says so (`"type": "rollback"`, or a `rollback` flag). Read from the serialized
/// trigger, so any trigger shape the engine gains for rollbacks is recognised without a change here.
pub fn is_rollback(run: &Run) -> bool {
    trigger_is_rollback(&serde_json::to_value(&run.trigger).unwrap_or(Value::Null))
}

/// [`is_rollback`] on a serialized trigger.
pub fn trigger_is_rollback(trigger: &Value) -> bool {
    let typed = trigger
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.contains("rollback"));
    let flagged = trigger.get("rollback").is_some_and(|f| match f {
        Value::Bool(b) => *b,
        Value::Null => false,
        _ => true,
    });
    typed || flagged
}

/// The commit time a release gave, if any.
pub fn commit_time(run: &Run) -> Option<DateTime<Utc>> {
    serde_json::to_value(&run.trigger)
        .ok()?
        .get("commit_time")?
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The figures over `runs` and `notifications` that `filter` keeps.
pub fn compute(
    runs: &[Run],
    notifications: &[NotificationSample],
    actions: &[ActionSample],
    filter: &Filter,
    now: DateTime<Utc>,
) -> MetricsReport {
    let digests: Vec<RunDigest> = runs.iter().map(RunDigest::of).collect();
    compute_digests(&digests, notifications, actions, filter, now)
}

/// [`compute`] over the runs' digests: what the use case reads, since digests outlive compacted run documents.
pub fn compute_digests(
    runs: &[RunDigest],
    notifications: &[NotificationSample],
    actions: &[ActionSample],
    filter: &Filter,
    now: DateTime<Utc>,
) -> MetricsReport {
    let runs: Vec<&RunDigest> = runs
        .iter()
        // A teardown run destroys layers before a deletion: not a deployment.
        .filter(|r| !r.trigger.is_teardown())
        .filter(|r| {
            filter.keeps(
                Some(r.created_at),
                Some(r.product.as_str()),
                Some(r.environment.as_str()),
            )
        })
        .collect();
    let finished: Vec<&RunDigest> = runs
        .iter()
        .copied()
        .filter(|r| r.status.is_finished() && r.finished_at.is_some())
        .collect();
    let succeeded: Vec<&RunDigest> = finished
        .iter()
        .copied()
        .filter(|r| r.status == RunStatus::Succeeded)
        .collect();
    let end = |r: &RunDigest| r.finished_at.expect("finished runs have finished_at");

    let deployments = finished.len();
    let success_rate = (deployments > 0).then(|| succeeded.len() as f64 / deployments as f64);
    let window_start = filter
        .since
        .or_else(|| runs.iter().map(|r| r.created_at).min());
    let deployments_per_day = window_start.and_then(|start| {
        let days = secs_between(start, now) / 86_400.0;
        (days > 0.0).then(|| succeeded.len() as f64 / days)
    });

    // Recovery: per environment, in the order runs finished, a failure streak ends at the next success.
    let mut by_env: BTreeMap<(String, String), Vec<&RunDigest>> = BTreeMap::new();
    for r in &finished {
        by_env
            .entry((r.product.to_string(), r.environment.to_string()))
            .or_default()
            .push(r);
    }
    let mut recovery = Recovery::default();
    let mut recovery_secs = Vec::new();
    for list in by_env.values_mut() {
        list.sort_by_key(|r| end(r));
        let mut streak_start: Option<DateTime<Utc>> = None;
        for r in list.iter() {
            match (r.status, streak_start) {
                (RunStatus::Failed, None) => streak_start = Some(end(r)),
                (RunStatus::Succeeded, Some(start)) => {
                    recovery.recovered += 1;
                    recovery_secs.push(secs_between(start, end(r)));
                    streak_start = None;
                }
                _ => {}
            }
        }
        if streak_start.is_some() {
            recovery.unrecovered += 1;
        }
    }
    recovery.time = Durations::of(recovery_secs);

    let rollback_runs: Vec<&RunDigest> = runs.iter().copied().filter(|r| r.rollback).collect();
    let rollbacks = Rollbacks {
        count: rollback_runs.len(),
        succeeded: rollback_runs
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .count(),
        duration: Durations::of(
            rollback_runs
                .iter()
                .filter_map(|r| Some(secs_between(r.created_at, r.finished_at?)))
                .collect(),
        ),
    };

    let mut checks = Checks::default();
    for c in runs.iter().flat_map(|r| r.checks.iter()) {
        checks.runs += 1;
        if c.failed {
            checks.failed += 1;
            if c.false_positive {
                checks.false_positives += 1;
            }
        }
    }
    checks.false_positive_rate =
        (checks.failed > 0).then(|| checks.false_positives as f64 / checks.failed as f64);

    let kept: Vec<&NotificationSample> = notifications
        .iter()
        .filter(|n| filter.keeps(n.at, n.product.as_deref(), n.environment.as_deref()))
        .collect();
    let notifications = Notifications {
        records: kept.len(),
        delay: Durations::of(kept.iter().filter_map(|n| n.delay_secs).collect()),
    };

    let mut action_counts = BTreeMap::new();
    for a in actions
        .iter()
        .filter(|a| filter.keeps(a.at, a.product.as_deref(), a.environment.as_deref()))
    {
        *action_counts.entry(a.action.clone()).or_insert(0) += 1;
    }

    MetricsReport {
        filter: filter.clone(),
        generated_at: now,
        deployments,
        succeeded: succeeded.len(),
        failed: deployments - succeeded.len(),
        in_progress: runs.len() - finished.len(),
        success_rate,
        deployments_per_day,
        deployment_duration: Durations::of(
            finished
                .iter()
                .map(|r| secs_between(r.building_since, end(r)))
                .collect(),
        ),
        time_to_ready: Durations::of(
            succeeded
                .iter()
                .map(|r| secs_between(r.created_at, end(r)))
                .collect(),
        ),
        recovery,
        rollbacks,
        change_lead_time: Durations::of(
            succeeded
                .iter()
                .filter_map(|r| Some(secs_between(r.commit_time?, end(r))))
                .collect(),
        ),
        notifications,
        checks,
        actions: action_counts,
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
