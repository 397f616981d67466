//! The expiry sweep (`expiry-sweeper`, `nightshift sweep`): deletes what has expired, never what is persistent or not ours.

use crate::service::{App, AppError, SWEEP_CONCURRENCY};
use crate::telemetry;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use nightshift_core::catalog::{Catalog, EnvironmentKind};
use nightshift_core::expiry::{self, PersistentSet, SweepPlan};
use nightshift_core::ports::{Deletion, PortError};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct SweepItem {
    pub resource_group: String,
    pub product: Option<String>,
    pub environment: Option<String>,
    pub verdict: String,
    pub reason: String,
    /// What happened: deleted, already-gone, would-delete (dry run), deferred, kept, error: ...
    pub action: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    pub now: DateTime<Utc>,
    pub dry_run: bool,
    pub cap: usize,
    pub deleted: usize,
    pub kept: usize,
    pub deferred: usize,
    pub errors: usize,
    pub items: Vec<SweepItem>,
}

impl App {
    fn persistent_set(catalog: &Catalog) -> PersistentSet {
        catalog
            .products
            .values()
            .flat_map(|p| {
                p.environments
                    .values()
                    .filter(|e| e.kind == EnvironmentKind::Persistent)
                    .map(move |e| (p.name.to_string(), e.name.to_string()))
            })
            .collect()
    }

    /// The expiry sweep: deletes expired environments' resource groups, within the cap, unless a dry run.
    #[tracing::instrument(skip_all, fields(dry_run, cap))]
    pub async fn sweep(
        &self,
        now: Option<DateTime<Utc>>,
        dry_run: bool,
        cap: usize,
    ) -> Result<SweepReport, AppError> {
        // The catalog's persistent environments are a second guard beside the tags: read it first, and stop on
        // a malformed catalog before deleting anything.
        let catalog = self.catalog()?;
        let now = now.unwrap_or_else(|| self.now());
        let groups = self
            .ports
            .cloud
            .list_managed(&self.settings.instance)
            .await?;
        let plan: SweepPlan = expiry::plan_sweep(
            groups,
            &self.settings.instance,
            now,
            cap,
            &Self::persistent_set(&catalog),
        );
        if !dry_run {
            // Warnings before deletion ride on the sweeper's pass; one that fails to send never stops a sweep.
            if let Err(e) = self.warn_expiring(&catalog, now).await {
                tracing::warn!(error = %e, "expiry warnings not sent");
            }
        }
        let mut report = SweepReport {
            now,
            dry_run,
            cap,
            deleted: 0,
            kept: 0,
            deferred: 0,
            errors: 0,
            items: Vec::new(),
        };
        // Deletions run concurrently: on Azure each one is a long-running operation of minutes.
        let deletions: Vec<String> = plan
            .decisions
            .iter()
            .filter(|d| d.verdict.is_delete() && !d.deferred && !dry_run)
            .map(|d| d.group.name.clone())
            .collect();
        let outcomes: BTreeMap<String, Result<(Deletion, Vec<String>), PortError>> =
            futures::stream::iter(deletions)
                .map(|name| async move {
                    let result = async {
                        let deletion = self.ports.cloud.delete_group(&name).await?;
                        // A vault purge that fails leaves the name taken for its retention: worth a warning,
                        // not a failed sweep.
                        let purged = match self.ports.cloud.purge_deleted_vaults(&name).await {
                            Ok(p) => p,
                            Err(e) => {
                                tracing::warn!(group = %name, error = %e, "soft-deleted vaults not purged");
                                Vec::new()
                            }
                        };
                        Ok((deletion, purged))
                    }
                    .await;
                    (name, result)
                })
                .buffer_unordered(SWEEP_CONCURRENCY)
                .collect()
                .await;

        // An environment is forgotten (state, record) only when every one of its groups went.
        let mut destroyed: BTreeMap<(String, String), (String, bool)> = BTreeMap::new();
        for d in &plan.decisions {
            let tag = |k: &str| d.group.tags.get(k).cloned();
            let product = tag(expiry::tags::PRODUCT);
            let environment = tag(expiry::tags::ENVIRONMENT);
            let mut gone = false;
            let action = match (&d.verdict, d.deferred, dry_run) {
                (expiry::Verdict::Keep { .. }, _, _) => {
                    report.kept += 1;
                    "kept".to_string()
                }
                (_, true, _) => {
                    report.deferred += 1;
                    "deferred".to_string()
                }
                (_, false, true) => "would-delete".to_string(),
                (_, false, false) => match &outcomes[&d.group.name] {
                    Ok((deletion, purged)) => {
                        report.deleted += 1;
                        gone = true;
                        let what = if *deletion == Deletion::AlreadyGone {
                            "already-gone"
                        } else {
                            "deleted"
                        };
                        if purged.is_empty() {
                            what.to_string()
                        } else {
                            format!("{what}, purged {}", purged.join(", "))
                        }
                    }
                    Err(e) => {
                        report.errors += 1;
                        tracing::error!(group = %d.group.name, error = %e, "resource group not deleted");
                        format!("error: {e}")
                    }
                },
            };
            if let (Some(p), Some(e), true) =
                (&product, &environment, d.verdict.is_delete() && !dry_run)
            {
                let entry = destroyed
                    .entry((p.clone(), e.clone()))
                    .or_insert((d.verdict.reason().to_string(), true));
                entry.1 &= gone;
            }
            if d.verdict.is_delete() && !d.deferred && !dry_run {
                telemetry::emit(
                    telemetry::ENVIRONMENT_DELETED,
                    serde_json::json!({
                        "product": product, "environment": environment, "resource_group": d.group.name,
                        "expires_at": d.group.tags.get(expiry::tags::EXPIRES_AT), "outcome": action, "reason": d.verdict.reason(),
                    }),
                );
            }
            report.items.push(SweepItem {
                resource_group: d.group.name.clone(),
                product,
                environment,
                verdict: if d.verdict.is_delete() {
                    "delete"
                } else {
                    "keep"
                }
                .into(),
                reason: d.verdict.reason().to_string(),
                action,
            });
        }
        for ((product, env), (reason, all_gone)) in destroyed {
            if all_gone {
                self.forget_environment(&product, &env, now, &reason, "the expiry sweep")
                    .await?;
            }
        }
        Ok(report)
    }

    /// After its groups are gone, an environment's Terraform state describes nothing: drop it so the next build
    /// starts clean, and mark the environment destroyed.
    pub(crate) async fn forget_environment(
        &self,
        product: &str,
        env: &str,
        now: DateTime<Utc>,
        reason: &str,
        by: &str,
    ) -> Result<(), AppError> {
        match &self.ports.tfstate {
            Some(store) => {
                for key in store.list(&format!("{product}/{env}/")).await? {
                    store.delete(&key).await?;
                }
            }
            None => {
                let dir = self.settings.terraform_dir().join(product).join(env);
                if dir.starts_with(&self.settings.state_dir) {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
        if let Some(mut rec) = self.repo.environment(product, env).await? {
            let already = rec.status == "destroyed";
            rec.status = "destroyed".into();
            rec.destroyed_at = Some(now);
            rec.destroyed_reason = Some(reason.to_string());
            rec.pending_teardown = None;
            self.repo.put_environment(&rec).await?;
            if !already {
                self.notify_destroyed(&rec, by, reason, now).await;
            }
        }
        Ok(())
    }
}
