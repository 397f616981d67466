//! Pending deletions of the sweep: a group deletion that outlasts the sweep (Cosmos DB or SQL: often 5 to 15
//! minutes), or whose vault purge or state cleanup failed, is recorded in the store and finished on a later pass,
//! once the group is no longer listed. Without the record, the next pass would no longer see the group, the vault
//! would stay soft-deleted (its name taken) and the environment's Terraform state would outlive its resources.

use crate::service::{App, AppError};
use crate::usecases::sweep::SweepItem;
use chrono::{DateTime, Utc};
use nightshift_core::ports::{PortError, Precondition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

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

    /// Finishes the pending deletions whose group is gone (`listed` holds the groups still there): purges the
    /// soft-deleted vaults they held, drops the environment's state once none of its groups is left, and removes
    /// the record. A failure keeps the record for the next pass. Returns one report item per pending deletion.
    pub(crate) async fn finish_pending_deletions(
        &self,
        listed: &BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<SweepItem>, AppError> {
        let pending = self.pending_deletions().await?;
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
        Ok(items)
    }
}
