//! Status (`status`, `nightshift status`): runs, environments and rejected messages as people read them.
//!
//! Runs come from the run index ([`crate::index`]) a page at a time, newest first: a page reads the keys of the
//! days it needs, then the digests and documents of the runs it shows, and nothing of the rest of the history.

use crate::repo::{EnvironmentRecord, Rejected};
use crate::service::{App, AppError};
use crate::usecases::dossier::dossier_key;
use crate::usecases::notify::DeliveryRecord;
use chrono::{DateTime, Utc};
use nightshift_core::run::{Run, RunStatus, Trigger};
use nightshift_core::run_digest::RunDigest;
use nightshift_core::{EnvironmentName, RunId};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub name: String,
    pub kind: String,
    pub status: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<f64>,
    pub reason: Option<String>,
    pub needs: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub id: String,
    pub product: String,
    pub environment: String,
    pub kind: String,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_secs: f64,
    pub expires_at: Option<DateTime<Utc>>,
    pub steps: Vec<StepSummary>,
    pub outputs: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Store key of the run's technical dossier, once generated (succeeded runs).
    pub dossier: Option<String>,
    /// When retention removed the run's document: its steps and outputs are gone, its summary stays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compacted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub instance: String,
    pub mode: String,
    pub now: DateTime<Utc>,
    /// A page of runs: the newest `limit` older than the cursor, shown oldest first (the newest last).
    pub runs: Vec<RunSummary>,
    /// Give it back (`--cursor`, `?cursor=`) for the next page of older runs; null on the last page.
    pub next_cursor: Option<String>,
    pub environments: Vec<EnvironmentRecord>,
    pub rejected: Vec<Rejected>,
    /// Notification deliveries that gave up (see docs/notifications.md).
    pub failed_notifications: Vec<crate::usecases::notify::DeliveryRecord>,
}

/// How many runs a status page shows unless told, and at most.
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 500;

/// Which page of runs `status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusQuery {
    pub limit: usize,
    pub cursor: Option<String>,
}

impl Default for StatusQuery {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl App {
    /// The newest page of runs.
    pub async fn status(&self) -> Result<StatusReport, AppError> {
        self.status_page(&StatusQuery::default()).await
    }

    /// One page of runs with their steps, the environments, rejected messages and notifications that gave up.
    pub async fn status_page(&self, q: &StatusQuery) -> Result<StatusReport, AppError> {
        let now = self.now();
        self.ensure_index().await?;
        let page = self
            .repo
            .page_digests(q.limit.clamp(1, MAX_LIMIT), q.cursor.as_deref())
            .await?;
        let mut runs = Vec::with_capacity(page.digests.len());
        for d in page.digests.iter().rev() {
            if let Some(summary) = self.summary_of(d, now).await? {
                runs.push(summary);
            }
        }
        // Dispatched steps of the runs shown that wait for one of the global job slots say so.
        for (_, h) in self.repo.slot_waiters().await? {
            let step = runs
                .iter_mut()
                .filter(|r| r.id == h.run.as_str())
                .flat_map(|r| r.steps.iter_mut())
                .find(|s| s.name == h.step.as_str() && s.status != "running");
            if let Some(s) = step {
                s.reason = Some(crate::slots::wait_reason(self.settings.max_jobs));
            }
        }
        Ok(StatusReport {
            instance: self.settings.instance.clone(),
            mode: self.settings.mode.as_str().into(),
            now,
            runs,
            next_cursor: page.next_cursor,
            environments: self.repo.environments().await?,
            rejected: self.repo.rejected().await?,
            failed_notifications: self.failed_deliveries().await?,
        })
    }

    /// What status shows of an indexed run: its document when it exists (the index healed if behind it), its
    /// digest once retention removed the document; None for a digest written for a run that was never created.
    async fn summary_of(
        &self,
        d: &RunDigest,
        now: DateTime<Utc>,
    ) -> Result<Option<RunSummary>, AppError> {
        match self.run_healing_index(d).await? {
            Some(run) if run.created_at == d.created_at => {
                let key = dossier_key(
                    run.product.as_str(),
                    run.environment.as_str(),
                    run.id.as_str(),
                );
                let dossier = self
                    .repo
                    .store()
                    .list(&key)
                    .await?
                    .into_iter()
                    .find(|k| *k == key);
                Ok(Some(RunSummary {
                    dossier,
                    ..summarize(&run, now)
                }))
            }
            // A second digest of a run whose creation raced (another creator's clock): the run is listed under
            // its own.
            Some(_) => Ok(None),
            // Retention removed the document (a finished digest is never written before its run exists).
            None if d.compacted_at.is_some() || d.status.is_finished() => {
                Ok(Some(summarize_digest(d, now)))
            }
            // Indexed before its creation, which never happened (the trigger's retry creates it).
            None => Ok(None),
        }
    }

    /// The deliveries that gave up, from their index.
    async fn failed_deliveries(&self) -> Result<Vec<DeliveryRecord>, AppError> {
        let mut out = Vec::new();
        for key in self.repo.failed_delivery_keys().await? {
            if let Some((r, _)) = self.repo.get_json::<DeliveryRecord>(&key).await? {
                if r.outcome == "failed" {
                    out.push(r);
                }
            }
        }
        out.sort_by_key(|r| r.event_at);
        Ok(out)
    }

    pub async fn run(&self, id: &RunId) -> Result<Option<Run>, AppError> {
        Ok(self.repo.run(id).await?)
    }

    /// The recent runs of one environment whose documents are kept (its index holds the last
    /// [`crate::index::RECENT_PER_ENVIRONMENT`]), newest last.
    pub async fn runs_for(
        &self,
        product: &str,
        env: &EnvironmentName,
    ) -> Result<Vec<Run>, AppError> {
        self.ensure_index().await?;
        let Some(index) = self.repo.environment_index(product, env.as_str()).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for d in index.recent.iter().rev() {
            if let Some(run) = self.run_healing_index(d).await? {
                out.push(run);
            }
        }
        Ok(out)
    }
}

/// A page of environment records.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentPage {
    /// The record keys (`environments/<product>/<environment>.json`) of the page, in name order.
    pub keys: Vec<String>,
    /// `<product>/<environment>` of the page's last one when more follow.
    pub next_cursor: Option<String>,
}

impl App {
    /// A page of environments, in name order: their record keys (listed by name, none of the rest read).
    pub async fn environment_page(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<EnvironmentPage, AppError> {
        self.ensure_index().await?;
        let after = match cursor {
            Some(c) => {
                let ok = c.split_once('/').is_some_and(|(p, e)| {
                    nightshift_core::ProductName::parse(p).is_ok()
                        && EnvironmentName::parse(e).is_ok()
                });
                if !ok {
                    return Err(nightshift_core::ports::PortError::Permanent(format!(
                        "cursor {c:?} is not one nightshift gave: start again without --cursor"
                    ))
                    .into());
                }
                Some(format!("environments/{c}.json"))
            }
            None => None,
        };
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut keys: Vec<String> = self
            .repo
            .store()
            .list("environments/")
            .await?
            .into_iter()
            .filter(|k| k.ends_with(".json"))
            .filter(|k| after.as_ref().is_none_or(|a| k > a))
            .collect();
        let more = keys.len() > limit;
        keys.truncate(limit);
        let next_cursor = more
            .then(|| {
                keys.last()
                    .and_then(|k| k.strip_prefix("environments/"))
                    .and_then(|k| k.strip_suffix(".json"))
            })
            .flatten()
            .map(str::to_string);
        Ok(EnvironmentPage { keys, next_cursor })
    }

    /// An environment's recent runs from its index, newest first; those not finished are read and the index healed
    /// when it is behind them. (Its caller has made sure the indexes exist: [`App::ensure_index`].)
    pub async fn environment_runs(
        &self,
        product: &str,
        env: &str,
    ) -> Result<Vec<RunDigest>, AppError> {
        let Some(index) = self.repo.environment_index(product, env).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(index.recent.len());
        for d in index.recent {
            if d.status.is_finished() {
                out.push(d);
                continue;
            }
            match self.run_healing_index(&d).await? {
                Some(run) if run.created_at == d.created_at => {
                    let now = RunDigest::of(&run);
                    out.push(if now.supersedes(&d) { now } else { d });
                }
                _ => out.push(d),
            }
        }
        Ok(out)
    }
}

/// A run's summary from its digest alone (its document removed by retention): no steps, no outputs.
pub fn summarize_digest(d: &RunDigest, now: DateTime<Utc>) -> RunSummary {
    RunSummary {
        id: d.id.to_string(),
        product: d.product.to_string(),
        environment: d.environment.to_string(),
        kind: d.kind.as_str().into(),
        trigger: d.trigger.clone(),
        status: d.status,
        reason: d.reason.clone(),
        created_at: d.created_at,
        finished_at: d.finished_at,
        duration_secs: d.duration_secs(now),
        expires_at: d.expires_at,
        steps: Vec::new(),
        outputs: BTreeMap::new(),
        dossier: None,
        compacted_at: d.compacted_at,
    }
}

pub fn summarize(r: &Run, now: DateTime<Utc>) -> RunSummary {
    RunSummary {
        id: r.id.to_string(),
        product: r.product.to_string(),
        environment: r.environment.to_string(),
        kind: r.kind.as_str().into(),
        trigger: r.trigger.clone(),
        status: r.status,
        reason: r.reason.clone(),
        created_at: r.created_at,
        finished_at: r.finished_at,
        duration_secs: r.duration_secs(now),
        expires_at: r.expires_at,
        steps: r
            .steps
            .iter()
            .map(|(k, s)| StepSummary {
                name: k.to_string(),
                kind: s.def.action.kind().into(),
                status: s.status.as_str().into(),
                attempts: s.attempts.len() as u32,
                max_attempts: s.max_attempts,
                started_at: s.started_at,
                finished_at: s.finished_at,
                duration_secs: match (s.started_at, s.finished_at) {
                    (Some(a), Some(b)) => Some((b - a).num_milliseconds() as f64 / 1000.0),
                    _ => None,
                },
                reason: s.reason.clone(),
                needs: s.def.needs.iter().map(|n| n.to_string()).collect(),
            })
            .collect(),
        outputs: r.outputs(),
        dossier: None,
        compacted_at: None,
    }
}
