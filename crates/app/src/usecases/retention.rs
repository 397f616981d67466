//! Retention, on the expiry sweeper's pass: finished runs older than `NIGHTSHIFT_RETENTION` (by when they finished)
//! lose their documents, step results and logs. Their digests stay in the run index, marked compacted, so `status`
//! still lists them and `nightshift metrics` counts the same figures. Never removed: a run that has not finished,
//! and an environment's last run and last successful run (a new run of the environment reads the latter).
//!
//! At-least-once: the documents go first, then the digest is marked. A pass cut short in between leaves a finished
//! digest without its document, which `status` shows from the digest and the next pass marks. A day whose runs are
//! all compacted is marked done and not read again; a day holding a run kept as an environment's last is read
//! again each pass, until that run is no longer the last.

use crate::index::day_of;
use crate::repo::EnvironmentRecord;
use crate::service::{App, AppError};
use chrono::{DateTime, Utc};
use nightshift_core::ports::{PortError, Precondition};
use nightshift_core::run_digest::RunDigest;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Runs compacted at most per pass: a large backlog is worked through over several passes.
pub const MAX_COMPACTED_PER_PASS: usize = 500;
/// Days whose runs are all compacted.
const RETAINED_PREFIX: &str = "index/retained/";

#[derive(Debug, Clone, Default, Serialize)]
pub struct RetentionReport {
    pub horizon: Option<DateTime<Utc>>,
    /// Runs whose documents were removed by this pass.
    pub compacted: Vec<String>,
    /// Old runs kept because they are an environment's last (or last successful) run.
    pub kept_as_last: usize,
    /// Old runs left because they have not finished.
    pub unfinished: usize,
}

impl App {
    /// One retention pass as of `now` (the sweep's clock). A failure is logged, never a failed sweep: the next
    /// pass goes on where this one stopped.
    pub async fn retention_pass(&self, now: DateTime<Utc>) -> RetentionReport {
        match self.retention(now).await {
            Ok(report) => {
                if !report.compacted.is_empty() {
                    tracing::info!(
                        compacted = report.compacted.len(),
                        kept_as_last = report.kept_as_last,
                        "retention: run documents removed, digests kept"
                    );
                }
                report
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention pass stopped; the next sweep goes on");
                RetentionReport::default()
            }
        }
    }

    pub async fn retention(&self, now: DateTime<Utc>) -> Result<RetentionReport, AppError> {
        self.ensure_index().await?;
        let horizon = now - self.settings.retention.as_chrono();
        let last_day = day_of(horizon);
        let mut report = RetentionReport {
            horizon: Some(horizon),
            ..RetentionReport::default()
        };
        let store = self.repo.store();
        let done: BTreeSet<String> = store
            .list(RETAINED_PREFIX)
            .await?
            .into_iter()
            .filter_map(|k| k.strip_prefix(RETAINED_PREFIX).map(str::to_string))
            .collect();
        let mut kept: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for day in self.repo.index_days().await? {
            if day > last_day || done.contains(&day) {
                continue;
            }
            let mut day_done = true;
            for key in self.repo.index_keys_of_day(&day).await? {
                let Some((d, _)) = self.repo.get_json::<RunDigest>(&key).await? else {
                    continue;
                };
                if d.compacted_at.is_some() {
                    continue;
                }
                if !d.status.is_finished() {
                    report.unfinished += 1;
                    day_done = false;
                    continue;
                }
                if d.finished_at.is_none_or(|f| f > horizon) {
                    day_done = false;
                    continue;
                }
                let env = (d.product.to_string(), d.environment.to_string());
                if !kept.contains_key(&env) {
                    let last = self.last_runs(&env.0, &env.1).await?;
                    kept.insert(env.clone(), last);
                }
                if kept[&env].contains(d.id.as_str()) {
                    report.kept_as_last += 1;
                    day_done = false;
                    continue;
                }
                if report.compacted.len() >= MAX_COMPACTED_PER_PASS {
                    day_done = false;
                    break;
                }
                self.repo.remove_run(&d.id).await?;
                self.repo
                    .index_digest(&RunDigest {
                        compacted_at: Some(now),
                        ..d.clone()
                    })
                    .await?;
                report.compacted.push(d.id.to_string());
            }
            if day_done {
                store
                    .put(
                        &format!("{RETAINED_PREFIX}{day}"),
                        day.clone().into_bytes(),
                        Precondition::None,
                    )
                    .await?;
            }
        }
        Ok(report)
    }

    /// The runs retention never removes from an environment: its last run and last successful run (from its
    /// record), and the newest run its index knows.
    async fn last_runs(&self, product: &str, env: &str) -> Result<BTreeSet<String>, PortError> {
        let mut out = BTreeSet::new();
        if let Some(rec) = self.repo.environment(product, env).await? {
            let EnvironmentRecord {
                last_run,
                last_success_run,
                ..
            } = rec;
            out.insert(last_run);
            out.extend(last_success_run);
        }
        if let Some(index) = self.repo.environment_index(product, env).await? {
            out.extend(index.current);
        }
        Ok(out)
    }
}
