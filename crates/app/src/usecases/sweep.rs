//! The expiry sweep (`expiry-sweeper`, `nightshift sweep`): deletes what has expired, never what is persistent or not ours.

use crate::service::{App, AppError, Outputs, SWEEP_CONCURRENCY};
use crate::telemetry;
use crate::usecases::sweep_layers::Layers;
use crate::usecases::sweep_pending::PendingDeletion;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use nightshift_core::catalog::{Catalog, EnvironmentKind};
use nightshift_core::expiry::{self, PersistentSet, SweepPlan};
use nightshift_core::ports::{Deletion, PortError};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// The vaults a group's deletion purged, or why the purge is pending.
type Purged = Result<Vec<String>, PortError>;

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
    /// Groups kept while their environment's layers owning resources outside them are destroyed first, or
    /// still being deleted from an earlier pass.
    pub waiting: usize,
    pub errors: usize,
    pub items: Vec<SweepItem>,
}

/// How far an environment's deletion has got during a sweep.
struct EnvProgress {
    /// Groups still to delete (deferred ones included).
    remaining: usize,
    /// A group of it was deferred or could not be deleted: it is not forgotten this pass.
    failed: bool,
    reason: String,
}

/// One group's deletion, as it happened.
struct Deleted {
    ok: bool,
    action: String,
    /// When it was its environment's last group: whether the environment was then recorded as destroyed.
    forgotten: Option<Result<(), String>>,
}

/// The (product, environment) a group is tagged with.
fn env_of(d: &expiry::Decision) -> Option<(String, String)> {
    Some((
        d.group.tags.get(expiry::tags::PRODUCT)?.clone(),
        d.group.tags.get(expiry::tags::ENVIRONMENT)?.clone(),
    ))
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
        // Deletions an earlier pass could not finish (still running, vault not purged): finish those whose group
        // is gone. A dry run changes nothing.
        // A teardown run started by this pass sends its first dispatches itself: a timer has no output binding.
        let mut out = Outputs::default();
        let (pending_items, handled) = if dry_run {
            (Vec::new(), BTreeSet::new())
        } else {
            let listed = groups.iter().map(|g| g.name.clone()).collect();
            self.finish_pending_deletions(&listed, now, &mut out)
                .await?
        };
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
            // So do run documents past the retention (usecases/retention.rs); it never stops a sweep either.
            self.retention_pass(now).await;
        }
        let mut report = SweepReport {
            now,
            dry_run,
            cap,
            deleted: 0,
            kept: 0,
            deferred: 0,
            waiting: 0,
            errors: 0,
            items: Vec::new(),
        };
        // An environment is forgotten (state, record) only when every one of its groups went: count what each
        // environment still has to lose. A deferred group keeps its environment for the next pass.
        let envs: Mutex<BTreeMap<(String, String), EnvProgress>> = Mutex::default();
        if !dry_run {
            let mut envs = envs.lock().expect("sweep lock");
            for d in plan
                .decisions
                .iter()
                .filter(|d| d.verdict.is_delete() && !handled.contains(&d.group.name))
            {
                if let Some(key) = env_of(d) {
                    let e = envs.entry(key).or_insert_with(|| EnvProgress {
                        remaining: 0,
                        failed: false,
                        reason: d.verdict.reason().to_string(),
                    });
                    e.remaining += 1;
                    e.failed |= d.deferred;
                }
            }
        }
        // Layers owning resources outside the groups (DNS records) go first, by a teardown run: an environment
        // that has some keeps its groups (and its state) until that run succeeded. Only environments none of whose
        // groups is deferred by the cap start one.
        let mut held: BTreeMap<(String, String), Layers> = BTreeMap::new();
        let candidates: Vec<((String, String), String)> = envs
            .lock()
            .expect("sweep lock")
            .iter()
            .filter(|(_, e)| !e.failed)
            .map(|(k, e)| (k.clone(), e.reason.clone()))
            .collect();
        for ((product, env), reason) in candidates {
            let groups: Vec<String> = plan
                .decisions
                .iter()
                .filter(|d| env_of(d).as_ref() == Some(&(product.clone(), env.clone())))
                .filter(|d| d.verdict.is_delete() && !d.deferred)
                .map(|d| d.group.name.clone())
                .collect();
            let layers = self
                .outside_layers(&product, &env, &groups, &reason, "the expiry sweep", &mut out)
                .await
                .unwrap_or_else(|e| {
                    Layers::Failed(format!(
                        "the layers owning resources outside the groups could not be checked ({e}): groups and state kept"
                    ))
                });
            if layers != Layers::Gone {
                held.insert((product, env), layers);
            }
        }
        let is_held = |d: &expiry::Decision| env_of(d).is_some_and(|k| held.contains_key(&k));
        // Deletions run concurrently (on Azure each one is a long-running operation of minutes), and each is
        // reported and recorded as it happens: a sweep cut short leaves unrecorded only the deletions in flight.
        // Owned: a stream of futures borrowing the plan is not `Send` enough for the handler's router.
        let deletions: Vec<expiry::Decision> = plan
            .decisions
            .iter()
            .filter(|d| d.verdict.is_delete() && !d.deferred && !dry_run)
            .filter(|d| !handled.contains(&d.group.name) && !is_held(d))
            .cloned()
            .collect();
        let envs = &envs;
        let outcomes: BTreeMap<String, Deleted> = futures::stream::iter(deletions)
            .map(|d| async move {
                let name = d.group.name.clone();
                let result = async {
                    let deletion = self.ports.cloud.delete_group(&name).await?;
                    // A vault purge that fails leaves the name taken: recorded as a pending deletion below and
                    // finished on a later pass (sweep_pending), not a failed sweep.
                    let purged: Purged = self.ports.cloud.purge_deleted_vaults(&name).await;
                    Ok::<_, PortError>((deletion, purged))
                }
                .await;
                // What is left to finish on a later pass: a deletion that failed or outlasted the poll (it may go
                // on in Azure), or a vault purge that failed.
                let unfinished = match &result {
                    Err(e) | Ok((_, Err(e))) => Some(e.to_string()),
                    Ok((_, Ok(_))) => None,
                };
                let mut action = match &result {
                    Ok((deletion, purged)) => {
                        let what = if *deletion == Deletion::AlreadyGone {
                            "already-gone"
                        } else {
                            "deleted"
                        };
                        tracing::info!(group = %name, "resource group {what}");
                        match purged {
                            Ok(p) if p.is_empty() => what.to_string(),
                            Ok(p) => format!("{what}, purged {}", p.join(", ")),
                            Err(e) => {
                                tracing::warn!(group = %name, error = %e, "soft-deleted vaults not purged");
                                format!("{what}, vault purge pending: {e}")
                            }
                        }
                    }
                    Err(e) => {
                        tracing::error!(group = %name, error = %e, "resource group not deleted");
                        format!("error: {e}")
                    }
                };
                let mut recorded = true;
                if let Some(last_error) = unfinished {
                    let pending = PendingDeletion {
                        resource_group: name.clone(),
                        product: d.group.tags.get(expiry::tags::PRODUCT).cloned(),
                        environment: d.group.tags.get(expiry::tags::ENVIRONMENT).cloned(),
                        reason: d.verdict.reason().to_string(),
                        since: now,
                        last_error,
                        teardown: None,
                    };
                    if let Err(e) = self.record_pending_deletion(&pending).await {
                        recorded = false;
                        action = format!("{action}; not recorded as a pending deletion: {e}");
                    }
                }
                let purge_pending = matches!(&result, Ok((_, Err(_))));
                telemetry::emit(
                    telemetry::ENVIRONMENT_DELETED,
                    serde_json::json!({
                        "product": d.group.tags.get(expiry::tags::PRODUCT),
                        "environment": d.group.tags.get(expiry::tags::ENVIRONMENT),
                        "resource_group": name, "expires_at": d.group.tags.get(expiry::tags::EXPIRES_AT),
                        "outcome": action, "reason": d.verdict.reason(),
                    }),
                );
                // The environment's last group went: forget it now.
                let forget = env_of(&d).and_then(|key| {
                    let mut envs = envs.lock().expect("sweep lock");
                    let e = envs.get_mut(&key)?;
                    e.remaining -= 1;
                    // A pending purge keeps the environment (and its state) for the pass that finishes it.
                    e.failed |= result.is_err() || purge_pending;
                    (e.remaining == 0 && !e.failed).then(|| (key, e.reason.clone()))
                });
                let forgotten = match forget {
                    Some(((product, env), reason)) => Some(
                        self.forget_environment(&product, &env, now, &reason, "the expiry sweep")
                            .await
                            .map_err(|e| format!("environment {product}/{env} not marked destroyed: {e}")),
                    ),
                    None => None,
                };
                (
                    name,
                    Deleted {
                        ok: result.is_ok() && recorded,
                        action,
                        forgotten,
                    },
                )
            })
            .buffer_unordered(SWEEP_CONCURRENCY)
            .collect()
            .await;

        for d in &plan.decisions {
            if handled.contains(&d.group.name) {
                continue; // reported with the pending deletions
            }
            let tag = |k: &str| d.group.tags.get(k).cloned();
            let hold = env_of(d).and_then(|k| held.get(&k));
            let action = match (&d.verdict, d.deferred, dry_run) {
                (expiry::Verdict::Keep { .. }, _, _) => {
                    report.kept += 1;
                    "kept".to_string()
                }
                (_, false, false) if hold.is_some() => match hold {
                    Some(Layers::Destroying(note)) => {
                        report.waiting += 1;
                        format!("pending: {note}")
                    }
                    Some(Layers::Failed(note)) => {
                        report.errors += 1;
                        format!("error: {note}")
                    }
                    _ => unreachable!("held environments are waiting or failed"),
                },
                (_, true, _) => {
                    report.deferred += 1;
                    "deferred".to_string()
                }
                (_, false, true) => {
                    // The catalog's layers owning resources outside the groups would be destroyed first.
                    let outside: Vec<String> = tag(expiry::tags::PRODUCT)
                        .and_then(|p| catalog.product(&p).cloned())
                        .map(|p| {
                            p.steps
                                .values()
                                .filter(|s| s.teardown.is_some())
                                .map(|s| s.name.to_string())
                                .collect()
                        })
                        .unwrap_or_default();
                    if outside.is_empty() {
                        "would-delete".to_string()
                    } else {
                        format!(
                            "would-delete, after destroying {} first",
                            outside.join(", ")
                        )
                    }
                }
                (_, false, false) => {
                    let done = &outcomes[&d.group.name];
                    if done.ok {
                        report.deleted += 1;
                    } else {
                        report.errors += 1;
                    }
                    match &done.forgotten {
                        // A bad environment record is reported as such; the group is gone all the same.
                        Some(Err(why)) => {
                            report.errors += 1;
                            format!("{}; {why}", done.action)
                        }
                        _ => done.action.clone(),
                    }
                }
            };
            report.items.push(SweepItem {
                resource_group: d.group.name.clone(),
                product: tag(expiry::tags::PRODUCT),
                environment: tag(expiry::tags::ENVIRONMENT),
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
        report.errors += pending_items
            .iter()
            .filter(|i| i.action.starts_with("error"))
            .count();
        report.waiting += pending_items
            .iter()
            .filter(|i| i.action.starts_with("pending"))
            .count();
        report.items.extend(pending_items);
        // A dispatch lost here is sent again by the watchdog (the step stays queued).
        if let Err(e) = self.send_dispatches(&mut out).await {
            tracing::warn!(error = %e, "teardown dispatches not sent: the watchdog sends them again");
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
