//! Status (`status`, `nightshift status`): runs, environments and rejected messages as people read them.

use crate::repo::{EnvironmentRecord, Rejected};
use crate::service::{App, AppError};
use chrono::{DateTime, Utc};
use nightshift_core::run::{Run, RunStatus, Trigger};
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
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub instance: String,
    pub mode: String,
    pub now: DateTime<Utc>,
    pub runs: Vec<RunSummary>,
    pub environments: Vec<EnvironmentRecord>,
    pub rejected: Vec<Rejected>,
    /// Notification deliveries that gave up (see docs/notifications.md).
    pub failed_notifications: Vec<crate::usecases::notify::DeliveryRecord>,
}

impl App {
    pub async fn status(&self) -> Result<StatusReport, AppError> {
        let now = self.now();
        let dossiers = self.dossier_keys().await?;
        let mut runs: Vec<RunSummary> = self
            .repo
            .runs()
            .await?
            .iter()
            .map(|r| RunSummary {
                dossier: dossiers.get(r.id.as_str()).cloned(),
                ..summarize(r, now)
            })
            .collect();
        // Dispatched steps that wait for one of the global job slots say so.
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
            environments: self.repo.environments().await?,
            rejected: self.repo.rejected().await?,
            failed_notifications: self
                .deliveries()
                .await?
                .into_iter()
                .filter(|d| d.outcome == "failed")
                .collect(),
        })
    }

    pub async fn run(&self, id: &RunId) -> Result<Option<Run>, AppError> {
        Ok(self.repo.run(id).await?)
    }

    /// Runs for one environment, newest last.
    pub async fn runs_for(
        &self,
        product: &str,
        env: &EnvironmentName,
    ) -> Result<Vec<Run>, AppError> {
        Ok(self
            .repo
            .runs()
            .await?
            .into_iter()
            .filter(|r| r.product.as_str() == product && &r.environment == env)
            .collect())
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
    }
}
