//! Pending deletions of the sweep: a group deletion that outlasts the sweep (Cosmos DB or SQL: often 5 to 15
//! minutes), or whose vault purge or state cleanup failed, is recorded in the store and finished on a later pass,
//! once the group is no longer listed. Without the record, the next pass would no longer see the group, the vault
//! would stay soft-deleted (its name taken) and the environment's Terraform state would outlive its resources.

use crate::environments::Torn;
use crate::service::{App, AppError, Outputs};
use crate::usecases::sweep::SweepItem;
use crate::usecases::sweep_layers::LayerTeardown;
use chrono::{DateTime, Utc};
use nightshift_core::ports::{PortError, Precondition};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A resource group whose deletion was asked for but whose aftermath (vault purge, state cleanup) is not done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDeletion {
    pub resource_group: String,
    pub product: Option<String>,
    pub environment: Option<String>,
    /// Why the environment was deleted (the sweep's verdict), kept for the environment record.
    pub reason: String,
    pub since: DateTime<Utc>,
    /// What held it up last.
    pub last_error: String,
    /// The teardown of the environment's layers owning resources outside its groups, when it has any: the group
    /// is deleted only once it succeeded ([`crate::usecases::sweep_layers`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<LayerTeardown>,
}

pub fn pending_key(group: &str) -> String {
    format!("pending-deletions/{group}.json")
}

impl App {
    /// Records (or refreshes) a deletion to finish later. Idempotent: a repeat overwrites with the same group.
    pub(crate) async fn record_pending_deletion(
        &self,
        pending: &PendingDeletion,
    ) -> Result<(), AppError> {
        self.repo
            .put_json(
                &pending_key(&pending.resource_group),
                pending,
                Precondition::None,
            )
            .await?;
        Ok(())
    }

    /// Every recorded pending deletion (an unreadable record is an error naming its key: fail closed).
    pub async fn pending_deletions(&self) -> Result<Vec<PendingDeletion>, AppError> {
        let mut out = Vec::new();
        for key in self.repo.store().list("pending-deletions/").await? {
            if let Some((p, _)) = self.repo.get_json::<PendingDeletion>(&key).await? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The build of `product/env` started after `since`, if the environment was built again since then.
    async fn rebuilt_since(
        &self,
        product: &str,
        env: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, AppError> {
        // An unreadable record says nothing of a rebuild: the teardown then refuses, naming it.
        let Ok(Some(rec)) = self.repo.environment(product, env).await else {
            return Ok(None);
        };
        let Ok(id) = nightshift_core::RunId::parse(&rec.last_run) else {
            return Ok(None);
        };
        Ok(self
            .repo
            .run(&id)
            .await?
            .filter(|r| !r.trigger.is_teardown() && r.created_at > since)
            .map(|r| r.id.to_string()))
    }

    /// Finishes the pending deletions whose group is gone (`listed` holds the groups still there): purges the
    /// soft-deleted vaults they held, drops the environment's state once none of its groups is left, and removes
    /// the record. A failure keeps the record for the next pass. An environment whose groups wait for the
    /// teardown of its outside layers is torn down once that teardown succeeded, or has it tried again when it
    /// failed (the teardown run's dispatches go into `out`). Returns one report item per pending deletion, and
    /// the listed groups this handled (the rest of the sweep leaves them alone).
    pub(crate) async fn finish_pending_deletions(
        &self,
        listed: &BTreeSet<String>,
        now: DateTime<Utc>,
        out: &mut Outputs,
    ) -> Result<(Vec<SweepItem>, BTreeSet<String>), AppError> {
        let pending = self.pending_deletions().await?;
        let mut handled = BTreeSet::new();
        // Environments whose listed groups wait for their outside layers: (product, env) -> (reason, by, groups).
        let mut waiting: BTreeMap<(String, String), (String, String, Vec<PendingDeletion>)> =
            BTreeMap::new();
        for p in &pending {
            if let (true, Some(t), Some(product), Some(env)) = (
                listed.contains(&p.resource_group),
                &p.teardown,
                &p.product,
                &p.environment,
            ) {
                handled.insert(p.resource_group.clone());
                waiting
                    .entry((product.clone(), env.clone()))
                    .or_insert_with(|| (p.reason.clone(), t.requested_by.clone(), Vec::new()))
                    .2
                    .push(p.clone());
            }
        }
        let still_pending: BTreeSet<(Option<String>, Option<String>)> = pending
            .iter()
            .filter(|p| listed.contains(&p.resource_group))
            .map(|p| (p.product.clone(), p.environment.clone()))
            .collect();
        let mut items = Vec::new();
        for p in pending {
            let item = |action: String| SweepItem {
                resource_group: p.resource_group.clone(),
                product: p.product.clone(),
                environment: p.environment.clone(),
                verdict: "delete".into(),
                reason: format!("pending deletion since {}", p.since.to_rfc3339()),
                action,
            };
            if handled.contains(&p.resource_group) {
                continue;
            }
            if listed.contains(&p.resource_group) {
                items.push(item("pending: the group is still being deleted".into()));
                continue;
            }
            let finished: Result<Vec<String>, PortError> = async {
                let purged = self
                    .ports
                    .cloud
                    .purge_deleted_vaults(&p.resource_group)
                    .await?;
                if let (Some(product), Some(env)) = (&p.product, &p.environment) {
                    let key = (p.product.clone(), p.environment.clone());
                    if !still_pending.contains(&key) {
                        self.forget_environment(product, env, now, &p.reason, "the expiry sweep")
                            .await
                            .map_err(|e| PortError::Transient(e.to_string()))?;
                    }
                }
                Ok(purged)
            }
            .await;
            match finished {
                Ok(purged) => {
                    self.repo
                        .store()
                        .delete(&pending_key(&p.resource_group))
                        .await?;
                    items.push(item(if purged.is_empty() {
                        "finished".into()
                    } else {
                        format!("finished, purged {}", purged.join(", "))
                    }));
                }
                Err(e) => {
                    tracing::warn!(group = %p.resource_group, error = %e, "pending deletion not finished yet");
                    self.record_pending_deletion(&PendingDeletion {
                        last_error: e.to_string(),
                        ..p.clone()
                    })
                    .await?;
                    items.push(item(format!("pending: {e}")));
                }
            }
        }
        for ((product, env), (reason, by, groups)) in waiting {
            let since = groups.iter().map(|p| p.since).min().unwrap_or(now);
            if let Some(build) = self.rebuilt_since(&product, &env, since).await? {
                // Built again after the deletion was asked for (a night's build after a failed teardown): the
                // environment is someone's again, and the new build owns those layers and their state.
                let names: Vec<String> = groups.iter().map(|p| p.resource_group.clone()).collect();
                self.drop_pending_deletions(&names).await?;
                for p in groups {
                    items.push(SweepItem {
                        resource_group: p.resource_group.clone(),
                        product: p.product.clone(),
                        environment: p.environment.clone(),
                        verdict: "keep".into(),
                        reason: format!("pending deletion since {}", p.since.to_rfc3339()),
                        action: format!("kept: built again since by run {build}: its pending deletion is dropped"),
                    });
                }
                continue;
            }
            let action = match self.teardown(&product, &env, &reason, &by, out).await {
                Ok(Torn::Done(_)) => {
                    "deleted, after the layers owning resources outside it".to_string()
                }
                Ok(Torn::Waiting(note)) => format!("pending: {note}"),
                Ok(Torn::Failed(note)) => format!("error: {note}"),
                Err(e) => format!("error: {e}"),
            };
            for p in groups {
                items.push(SweepItem {
                    resource_group: p.resource_group.clone(),
                    product: p.product.clone(),
                    environment: p.environment.clone(),
                    verdict: "delete".into(),
                    reason: format!("pending deletion since {}", p.since.to_rfc3339()),
                    action: action.clone(),
                });
            }
        }
        Ok((items, handled))
    }
}
