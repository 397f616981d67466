//! Environment records and what every lifecycle path shares: a new run continuing a live environment (expiry carried,
//! removed layers torn down), a run's progress written into its environment's record (status, version, URLs,
//! recovery time), the expiry tags of an environment's resource groups, and tearing an environment down (the sweep's path: groups, soft-deleted vaults, Terraform state, record `destroyed`).

use crate::repo::{EnvironmentRecord, Recovery};
use crate::service::{App, AppError, Outputs};
use crate::usecases::sweep_layers::Layers;
use chrono::{DateTime, Utc};
use nightshift_core::catalog::EnvironmentKind;
use nightshift_core::expiry::tags;
use nightshift_core::ports::TagUpdate;
use nightshift_core::run::{Run, RunStatus};
use nightshift_core::{planner, reconcile, RunId};
use std::collections::BTreeMap;

/// The record after `run` changed status: a pure function of the record as stored and the run.
pub fn record_from_run(prev: Option<EnvironmentRecord>, run: &Run) -> EnvironmentRecord {
    // A teardown run is part of a deletion: the environment is being destroyed whatever the run's status (a
    // failed one keeps its groups for the next try), and nothing of its builds' history changes.
    if run.trigger.is_teardown() {
        let mut rec = prev.unwrap_or_else(|| EnvironmentRecord {
            product: run.product.to_string(),
            environment: run.environment.to_string(),
            kind: run.kind.as_str().to_string(),
            last_run: run.id.to_string(),
            ..EnvironmentRecord::default()
        });
        rec.status = "destroying".into();
        return rec;
    }
    // A late or repeated update from the build the record already knows (a redelivered result, a bookkeeping pass
    // done again) never brings an environment being destroyed, or destroyed, back to life: only a new run does.
    if let Some(p) = prev
        .as_ref()
        .filter(|p| !p.is_live() && p.last_run == run.id.as_str())
    {
        return p.clone();
    }
    let status = match run.status {
        RunStatus::Running | RunStatus::Waiting => "building",
        RunStatus::Succeeded => "ready",
        RunStatus::Failed => "failed",
    };
    // A destroyed environment built again starts a new life: nothing of the old one carries over but its history
    // of versions and recoveries.
    let mut rec = match prev {
        Some(p) if p.is_live() => p,
        Some(p) => EnvironmentRecord {
            version: p.version,
            last_success_run: p.last_success_run,
            last_recovery: p.last_recovery,
            ..EnvironmentRecord::default()
        },
        None => EnvironmentRecord::default(),
    };
    let same_run = rec.last_run == run.id.as_str();
    rec.product = run.product.to_string();
    rec.environment = run.environment.to_string();
    rec.kind = run.kind.as_str().to_string();
    rec.last_run = run.id.to_string();
    rec.status = status.to_string();
    rec.destroyed_at = None;
    rec.destroyed_reason = None;
    if run.kind == EnvironmentKind::Persistent {
        rec.expires_at = None;
        rec.expiry_reason = None;
    } else if !same_run || rec.expires_at.is_none() {
        // A new run's expiry already carries a later one (planner::carry_expiry): when that is what it got, the
        // reason (extended, kept) carries too. For the same run the record may have been moved since (extend,
        // keep, on_failure) and stays as it is.
        if rec.expires_at != run.expires_at || rec.expiry_reason.is_none() {
            rec.expiry_reason = Some("lifetime".into());
        }
        rec.expires_at = run.expires_at;
    }
    let finished = run.finished_at.unwrap_or(run.created_at);
    match run.status {
        RunStatus::Succeeded => {
            rec.version = Some(run.trigger.version().to_string());
            rec.urls = run.urls();
            rec.last_success_run = Some(run.id.to_string());
            if let (Some(failed_at), Some(failed_run)) =
                (rec.failed_at.take(), rec.failed_run.take())
            {
                rec.last_recovery = Some(Recovery {
                    failed_run,
                    failed_at,
                    recovered_by_run: run.id.to_string(),
                    ready_at: finished,
                    seconds: (finished - failed_at).num_seconds(),
                });
            }
        }
        // The recovery clock starts at the first failure, not at each failed retry of the environment.
        RunStatus::Failed if rec.failed_at.is_none() => {
            rec.failed_at = Some(finished);
            rec.failed_run = Some(run.id.to_string());
        }
        _ => {}
    }
    rec
}

impl App {
    /// Writes a run's progress into its environment's record (a waiting run leaves it to the run it waits for).
    pub(crate) async fn record_environment(
        &self,
        run: &Run,
    ) -> Result<Option<EnvironmentRecord>, AppError> {
        // Every status change of a run passes here: the run indexes follow (crate::index).
        self.index_run(run).await?;
        if run.status == RunStatus::Waiting {
            return Ok(None);
        }
        let rec = self
            .repo
            .update_environment(run.product.as_str(), run.environment.as_str(), |prev| {
                Some(record_from_run(prev, run))
            })
            .await?;
        Ok(rec)
    }

    /// A new run of a live environment continues it: its expiry is never brought closer (a re-release, a night after
    /// `extend` or `keep`), and the layers its last good build had and this plan lacks are destroyed by this run.
    pub(crate) async fn continue_environment(
        &self,
        run: &mut Run,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        let Some(rec) = self
            .repo
            .environment(run.product.as_str(), run.environment.as_str())
            .await?
            .filter(|r| r.is_live())
        else {
            return Ok(());
        };
        planner::carry_expiry(run, rec.expires_at);
        let last = rec
            .last_success_run
            .as_deref()
            .and_then(|id| RunId::parse(id).ok());
        let previous = match last {
            Some(id) => self.repo.run(&id).await?,
            None => None,
        };
        if let Some(previous) = previous {
            for layer in reconcile::add_removed_layers(run, &previous) {
                out.log(format!(
                    "{}: layer {layer} is no longer in the catalog: this run destroys it",
                    run.id
                ));
            }
        }
        Ok(())
    }

    /// Every resource group of an environment, by its tags.
    pub(crate) async fn environment_groups(
        &self,
        product: &str,
        env: &str,
    ) -> Result<Vec<String>, AppError> {
        Ok(self
            .ports
            .cloud
            .list_managed(&self.settings.instance)
            .await?
            .into_iter()
            .filter(|g| {
                g.tags.get(tags::PRODUCT).map(String::as_str) == Some(product)
                    && g.tags.get(tags::ENVIRONMENT).map(String::as_str) == Some(env)
            })
            .map(|g| g.name)
            .collect())
    }

    /// Moves the `nightshift-expires-at` tag of every resource group of an environment (groups gone meanwhile are
    /// skipped). Returns how many groups were tagged.
    pub(crate) async fn retag_expiry(
        &self,
        product: &str,
        env: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let update =
            BTreeMap::from([(tags::EXPIRES_AT.to_string(), tags::format_time(expires_at))]);
        let mut tagged = 0;
        for group in self.environment_groups(product, env).await? {
            if self.ports.cloud.merge_tags(&group, &update).await? == TagUpdate::Updated {
                tagged += 1;
            }
        }
        Ok(tagged)
    }

    /// Destroys an environment now, by the sweep's path: the layers owning resources outside its groups first (a
    /// teardown run: then this is called again when that run succeeded), then its resource groups, their
    /// soft-deleted vaults, its Terraform state, and its record marked `destroyed` with `reason`. Idempotent: a
    /// repeat after a crash finishes the job (groups already gone count as deleted, the teardown run is the same).
    pub(crate) async fn teardown(
        &self,
        product: &str,
        env: &str,
        reason: &str,
        by: &str,
        out: &mut Outputs,
    ) -> Result<Torn, AppError> {
        self.repo
            .update_environment(product, env, |prev| {
                prev.filter(|r| r.status != "destroyed").map(|mut r| {
                    r.status = "destroying".into();
                    r
                })
            })
            .await?;
        let groups = self.environment_groups(product, env).await?;
        match self
            .outside_layers(product, env, &groups, reason, by, out)
            .await?
        {
            Layers::Gone => {}
            Layers::Destroying(note) => return Ok(Torn::Waiting(note)),
            Layers::Failed(note) => return Ok(Torn::Failed(note)),
        }
        for group in &groups {
            self.ports.cloud.delete_group(group).await?;
            // As in the sweep: a vault purge that fails leaves a name taken for its retention, not a failed teardown.
            if let Err(e) = self.ports.cloud.purge_deleted_vaults(group).await {
                tracing::warn!(group = %group, error = %e, "soft-deleted vaults not purged");
            }
        }
        self.forget_environment(product, env, self.now(), reason, by)
            .await?;
        self.drop_pending_deletions(&groups).await?;
        crate::telemetry::emit(
            crate::telemetry::ENVIRONMENT_DELETED,
            serde_json::json!({"product": product, "environment": env, "groups": groups, "reason": reason}),
        );
        Ok(Torn::Done(groups.len()))
    }
}

/// What a teardown did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Torn {
    /// The environment is gone: this many resource groups were deleted.
    Done(usize),
    /// Its outside layers are being destroyed first: the groups go when that run succeeds (what to say).
    Waiting(String),
    /// Their teardown failed: groups and state kept, tried again (what to say).
    Failed(String),
}
