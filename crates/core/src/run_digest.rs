//! A run in a few hundred bytes: what `status` lists before it reads a run, what the run indexes keep, and every
//! figure `nightshift metrics` needs from a run. It outlives the run's document: retention removes old documents
//! and keeps their digests, so the metrics stay the same.

use crate::catalog::{Action, EnvironmentKind};
use crate::metrics;
use crate::run::{Run, RunStatus, Trigger};
use crate::{EnvironmentName, ProductName, RunId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A reason longer than this is cut in a digest (the run's document keeps it whole while it exists).
const MAX_REASON_CHARS: usize = 512;

/// One smoke check of a run, as the metrics count it: whether its first failure was followed by a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSample {
    pub failed: bool,
    pub false_positive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDigest {
    pub id: RunId,
    pub product: ProductName,
    pub environment: EnvironmentName,
    pub kind: EnvironmentKind,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it began building (the end of its wait for the environment, or its creation).
    pub building_since: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rollback: bool,
    pub commit_time: Option<DateTime<Utc>>,
    /// Its smoke steps that ran at least once.
    #[serde(default)]
    pub checks: Vec<CheckSample>,
    pub steps: usize,
    /// How far the run had got when this digest was taken (the length of its journal): a digest never replaces
    /// one taken later.
    pub progress: usize,
    /// When retention removed the run's document (its steps, results and logs): the digest is all that is left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacted_at: Option<DateTime<Utc>>,
}

impl RunDigest {
    pub fn of(run: &Run) -> Self {
        Self {
            id: run.id.clone(),
            product: run.product.clone(),
            environment: run.environment.clone(),
            kind: run.kind,
            trigger: run.trigger.clone(),
            status: run.status,
            reason: run.reason.as_deref().map(cut),
            created_at: run.created_at,
            building_since: metrics::building_since(run),
            finished_at: run.finished_at,
            expires_at: run.expires_at,
            rollback: metrics::is_rollback(run),
            commit_time: metrics::commit_time(run),
            checks: checks(run),
            steps: run.steps.len(),
            progress: run.journal.len(),
            compacted_at: None,
        }
    }

    /// Whether this digest says more than `other` about the same run: a finished run beats an unfinished one,
    /// then the longer journal wins, then a compacted one. Equal digests replace nothing, and a digest never
    /// replaces one taken further on, so a late or repeated write cannot take an index backwards.
    pub fn supersedes(&self, other: &RunDigest) -> bool {
        let rank = |d: &RunDigest| (d.status.is_finished(), d.progress, d.compacted_at.is_some());
        let facts = |d: &RunDigest| RunDigest {
            compacted_at: None,
            ..d.clone()
        };
        rank(self) > rank(other) || (rank(self) == rank(other) && facts(self) != facts(other))
    }

    pub fn duration_secs(&self, now: DateTime<Utc>) -> f64 {
        let end = self.finished_at.unwrap_or(now);
        (end - self.created_at).num_milliseconds() as f64 / 1000.0
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_REASON_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_REASON_CHARS).collect();
    out.push('…');
    out
}

fn checks(run: &Run) -> Vec<CheckSample> {
    run.steps
        .values()
        .filter(|s| matches!(s.def.action, Action::Smoke { .. }) && !s.attempts.is_empty())
        .map(|s| {
            let mut attempts: Vec<_> = s.attempts.iter().collect();
            attempts.sort_by_key(|a| a.attempt);
            let first_failure = attempts
                .iter()
                .position(|a| a.outcome.as_deref() == Some("failed"));
            match first_failure {
                None => CheckSample {
                    failed: false,
                    false_positive: false,
                },
                Some(i) => CheckSample {
                    failed: true,
                    false_positive: attempts[i + 1..]
                        .iter()
                        .any(|a| a.outcome.as_deref() == Some("succeeded")),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn digest(status: RunStatus, progress: usize) -> RunDigest {
        let t = Utc.with_ymd_and_hms(2026, 11, 21, 2, 0, 0).unwrap();
        RunDigest {
            id: RunId::parse("shop.nightly.n20261121").unwrap(),
            product: ProductName::parse("shop").unwrap(),
            environment: EnvironmentName::parse("nightly").unwrap(),
            kind: EnvironmentKind::Nightly,
            trigger: Trigger::Nightly {
                night: t.date_naive(),
                rebuild: 0,
            },
            status,
            reason: None,
            created_at: t,
            building_since: t,
            finished_at: status.is_finished().then_some(t),
            expires_at: None,
            rollback: false,
            commit_time: None,
            checks: vec![],
            steps: 3,
            progress,
            compacted_at: None,
        }
    }

    #[test]
    fn a_digest_never_replaces_one_taken_further_on() {
        let created = digest(RunStatus::Running, 0);
        let waiting = digest(RunStatus::Waiting, 1);
        let running = digest(RunStatus::Running, 2);
        let done = digest(RunStatus::Succeeded, 9);
        assert!(waiting.supersedes(&created));
        assert!(running.supersedes(&waiting));
        assert!(done.supersedes(&running));
        assert!(
            !running.supersedes(&done),
            "a late write of an earlier state"
        );
        assert!(!done.supersedes(&done.clone()), "a repeat changes nothing");
        let compacted = RunDigest {
            compacted_at: Some(Utc::now()),
            ..done.clone()
        };
        assert!(compacted.supersedes(&done));
        assert!(!done.supersedes(&compacted), "compaction is not undone");
    }

    #[test]
    fn a_long_reason_is_cut_in_a_digest() {
        let long = "x".repeat(5000);
        assert!(cut(&long).chars().count() <= MAX_REASON_CHARS + 1);
        assert_eq!(cut("short"), "short");
    }
}
