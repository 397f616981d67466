//! After a build: what the environment's lifecycle asks once a run has finished. A close that waited for the build
//! tears the environment down; an expiry moved during the build (extend, keep) goes back onto the tags the build's
//! Terraform re-applied; and a failed run gets its environment's `on_failure` policy:
//!
//! - `keep`: nothing; the environment stays, marked failed, until its expiry (`keep` can pin it).
//! - `destroy`: the expiry moves to `grace` after the failure and the expiry sweep tears it down. We move the
//!   expiry rather than schedule a `destroy` message: the sweep already is the one deletion path, capped, with a
//!   reason per decision and a dry run; a later `keep` or re-release simply moves the expiry out again, where a
//!   scheduled message would have to be found and cancelled. The cost: the teardown happens at the first sweep
//!   after the grace, not at the minute.
//! - `rollback` (persistent): the last version that succeeded is deployed again as a new run with a rollback
//!   trigger. A failed rollback stays failed and says so: no rollback of a rollback.

use crate::repo::EnvironmentRecord;
use crate::service::{App, AppError, Outputs};
use nightshift_core::catalog::FailurePolicy;
use nightshift_core::engine::{Notification, NotificationKind};
use nightshift_core::lifecycle;
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::run::{Run, RunStatus, Trigger};
use nightshift_core::RunId;

/// Who asks for what the failure policy does, in journals and destruction reasons.
pub const ROLLBACK_REQUESTER: &str = "nightshift (on_failure: rollback)";

impl App {
    pub(crate) async fn after_build(
        &self,
        run: &Run,
        rec: &EnvironmentRecord,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        let (product, env) = (run.product.as_str(), run.environment.as_str());
        if let Some(pending) = &rec.pending_teardown {
            out.log(format!(
                "{product}/{env}: the build ended, tearing down as asked ({})",
                pending.reason
            ));
            self.teardown(product, env, &pending.reason, &pending.requested_by, out)
                .await?;
            return Ok(());
        }
        if let Some(expires_at) = rec.expires_at.filter(|t| Some(*t) != run.expires_at) {
            self.retag_expiry(product, env, expires_at).await?;
        }
        if run.trigger.is_rollback() && run.status == RunStatus::Succeeded {
            let text = format!(
                "{product}/{env}: rolled back to {} (run {})",
                run.trigger.version(),
                run.id
            );
            out.log(text.clone());
            self.notify_quietly(Notification {
                kind: NotificationKind::RollbackFinished,
                run: run.id.to_string(),
                product: product.to_string(),
                environment: env.to_string(),
                text,
                details: Box::default(),
            })
            .await;
        }
        if run.status != RunStatus::Failed {
            return Ok(());
        }
        let catalog = match self.catalog() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "on_failure not applied: the catalog does not load");
                return Ok(());
            }
        };
        let Some(product_def) = catalog.product(product) else {
            return Ok(());
        };
        let Ok(def) = planner::environment(product_def, &run.environment) else {
            return Ok(());
        };
        match def.on_failure {
            FailurePolicy::Keep => Ok(()),
            FailurePolicy::Destroy { grace } => {
                let failed_at = run.finished_at.unwrap_or_else(|| self.now());
                let Some(target) = lifecycle::expiry_after_failure(
                    def.on_failure,
                    failed_at,
                    rec.expires_at,
                    rec.kept_until,
                ) else {
                    return Ok(());
                };
                self.repo
                    .update_environment(product, env, |prev| {
                        prev.filter(|r| r.last_run == run.id.as_str() && r.is_live())
                            .map(|mut r| {
                                r.expires_at = Some(target);
                                r.expiry_reason = Some("failed".into());
                                r
                            })
                    })
                    .await?;
                self.retag_expiry(product, env, target).await?;
                out.log(format!(
                    "{product}/{env} failed (on_failure: destroy): torn down by the sweep after {}, grace {grace}",
                    target.to_rfc3339()
                ));
                Ok(())
            }
            FailurePolicy::Rollback => self.roll_back(run, rec, product_def, out).await,
        }
    }

    async fn roll_back(
        &self,
        run: &Run,
        rec: &EnvironmentRecord,
        product: &nightshift_core::catalog::Product,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        let say = |kind: NotificationKind, text: String| Notification {
            kind,
            run: run.id.to_string(),
            product: run.product.to_string(),
            environment: run.environment.to_string(),
            text,
            details: Box::default(),
        };
        if run.trigger.is_rollback() {
            let text = format!(
                "{}: the rollback failed; {}/{} stays failed (no rollback of a rollback)",
                run.id, run.product, run.environment
            );
            out.log(text.clone());
            self.notify_quietly(say(NotificationKind::RollbackFinished, text))
                .await;
            return Ok(());
        }
        let last = rec
            .last_success_run
            .as_deref()
            .and_then(|id| RunId::parse(id).ok());
        let previous = match last {
            Some(id) => self.repo.run(&id).await?,
            None => None,
        };
        let Some(previous) = previous else {
            let text = format!(
                "{}: nothing to roll back to ({}/{} never succeeded)",
                run.id, run.product, run.environment
            );
            out.log(text.clone());
            self.notify_quietly(say(NotificationKind::RunFailed, text))
                .await;
            return Ok(());
        };
        let planned = planner::plan(PlanRequest {
            product,
            environment: &run.environment,
            trigger: Trigger::Rollback {
                version: previous.trigger.version().to_string(),
                failed_run: run.id.clone(),
                requested_by: ROLLBACK_REQUESTER.into(),
            },
            ttl: None,
            instance: &self.settings.instance,
            now: self.now(),
        });
        match planned {
            Ok(rollback) => {
                let text = format!(
                    "{}/{}: rolling back to {} (run {} failed; rollback run {})",
                    run.product,
                    run.environment,
                    previous.trigger.version(),
                    run.id,
                    rollback.id
                );
                out.log(text.clone());
                self.notify_quietly(say(NotificationKind::RollbackStarted, text))
                    .await;
                self.start_run(rollback, out).await
            }
            Err(e) => {
                let text = format!("{}: no rollback: {e}", run.id);
                out.log(text.clone());
                self.notify_quietly(say(NotificationKind::RunFailed, text))
                    .await;
                Ok(())
            }
        }
    }

    /// Notifications never fail the lifecycle: a delivery that fails is recorded and retried by the notifier.
    async fn notify_quietly(&self, n: Notification) {
        let n = self.enrich(n).await;
        self.send_notification(&n).await;
    }
}
