//! Release intake (`release-intake`): the one writer for every `releases` message. It decodes the message, finds
//! the product and the environment, applies the action (deploy here; close, destroy, extend and keep in
//! [`super::lifecycle`]) and journals the outcome once at `actions/<sha256 of the MessageId>.json`, with who asked.
//! A message that cannot apply is recorded as rejected (visible in `status`) and acknowledged, never retried.

use crate::repo::{ActionOutcome, ActionRecord};
use crate::service::{App, AppError, Outputs};
use chrono::{DateTime, Utc};
use nightshift_core::catalog::{Catalog, EnvironmentDef, Product};
use nightshift_core::messages::{PartialRelease, Rejection, Release, ReleaseAction, Request};
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::run::Trigger;
use nightshift_core::RunId;

/// How an action applied, for its journal entry.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub run_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// A note for people (e.g. a teardown deferred until the build in progress ends).
    pub note: Option<String>,
}

impl App {
    /// A `releases` message: apply its action once, journal the outcome, or record why it cannot apply.
    #[tracing::instrument(skip_all, fields(message_id))]
    pub async fn release(&self, body: &str, message_id: &str) -> Result<Outputs, AppError> {
        let mut out = Outputs::default();
        if let Some(done) = self.repo.action(message_id).await? {
            // A redelivery: the outcome is journaled, nothing changes again. A deploy's run may still have
            // queued steps whose first dispatches were lost: those are sent again.
            out.log(format!(
                "message {message_id} was handled already ({:?}{})",
                done.outcome,
                done.reason.map(|r| format!(": {r}")).unwrap_or_default()
            ));
            if let Some(run) = done.run_id.as_deref().and_then(|id| RunId::parse(id).ok()) {
                if let Some(existing) = self.repo.run(&run).await? {
                    self.rejoin_run(&existing, &mut out).await?;
                }
            }
            return Ok(out);
        }
        let release = match Release::decode(body) {
            Ok(r) => r,
            Err(why) => {
                let partial = PartialRelease::read(body);
                self.journal_rejection(message_id, body, partial, &why, &mut out)
                    .await?;
                return Ok(out);
            }
        };
        let catalog = self.catalog()?;
        let outcome = match self.resolve(&catalog, &release) {
            Err(why) => Err(why),
            Ok((product, def)) => match &release.request {
                Request::Deploy {
                    version,
                    ttl,
                    commit_time,
                } => {
                    self.deploy(
                        &release,
                        &product,
                        (version, *ttl, *commit_time),
                        message_id,
                        &mut out,
                    )
                    .await?
                }
                _ => self.lifecycle(&release, &def, message_id, &mut out).await?,
            },
        };
        let partial = PartialRelease {
            action: Some(release.action().as_str().to_string()),
            product: Some(release.product.to_string()),
            environment: Some(release.environment.to_string()),
            requested_by: Some(release.requested_by.clone()),
        };
        match outcome {
            Ok(applied) => {
                out.log(format!(
                    "{} {}/{} requested by {}: applied{}",
                    release.action().as_str(),
                    release.product,
                    release.environment,
                    release.requested_by,
                    applied
                        .note
                        .as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ));
                self.repo
                    .record_action(&ActionRecord {
                        message_id: message_id.to_string(),
                        action: partial.action,
                        product: partial.product,
                        environment: partial.environment,
                        requested_by: partial.requested_by,
                        at: self.now(),
                        outcome: ActionOutcome::Applied,
                        reason: applied.note,
                        run_id: applied.run_id,
                        expires_at: applied.expires_at,
                    })
                    .await?;
            }
            Err(why) => {
                self.journal_rejection(message_id, body, partial, &why, &mut out)
                    .await?
            }
        }
        Ok(out)
    }

    /// The product (on this instance's platform) and the catalog entry of the message's environment.
    fn resolve(
        &self,
        catalog: &Catalog,
        release: &Release,
    ) -> Result<(Product, EnvironmentDef), Rejection> {
        let product = catalog.product(release.product.as_str()).ok_or_else(|| {
            Rejection::new(format!(
                "unknown product {:?} (catalog: {})",
                release.product.as_str(),
                catalog
                    .products
                    .keys()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if product.platform != self.platform() {
            return Err(Rejection::new(format!(
                "product {} runs on the {:?} platform, this instance is in {} mode",
                product.name,
                product.platform,
                self.settings.mode.as_str()
            )));
        }
        let def = planner::environment(product, &release.environment)
            .map_err(|e| Rejection::new(e.to_string()))?
            .clone();
        Ok((product.clone(), def))
    }

    /// Deploy: a run of a version in an environment (joined if this message started it already).
    async fn deploy(
        &self,
        release: &Release,
        product: &Product,
        (version, ttl, commit_time): (&str, Option<nightshift_core::Ttl>, Option<DateTime<Utc>>),
        message_id: &str,
        out: &mut Outputs,
    ) -> Result<Result<Applied, Rejection>, AppError> {
        let planned = planner::plan(PlanRequest {
            product,
            environment: &release.environment,
            trigger: Trigger::Release {
                version: version.to_string(),
                requested_by: release.requested_by.clone(),
                message_id: message_id.to_string(),
                commit_time,
            },
            ttl,
            instance: &self.settings.instance,
            now: self.now(),
        });
        let run = match planned {
            Ok(run) => run,
            Err(e) => return Ok(Err(Rejection::new(e.to_string()))),
        };
        let id = run.id.clone();
        self.start_run(run, out).await?;
        let expires_at = self.repo.run(&id).await?.and_then(|r| r.expires_at);
        Ok(Ok(Applied {
            run_id: Some(id.to_string()),
            expires_at,
            note: None,
        }))
    }

    /// Records a message that cannot apply: under `rejected/` (what `status` lists) and in the action journal.
    async fn journal_rejection(
        &self,
        message_id: &str,
        body: &str,
        partial: PartialRelease,
        why: &Rejection,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        self.reject("releases", message_id, body, why, out).await?;
        self.repo
            .record_action(&ActionRecord {
                message_id: message_id.to_string(),
                action: partial.action,
                product: partial.product,
                environment: partial.environment,
                requested_by: partial.requested_by,
                at: self.now(),
                outcome: ActionOutcome::Rejected,
                reason: Some(why.reason.clone()),
                run_id: None,
                expires_at: None,
            })
            .await?;
        Ok(())
    }
}

/// The verb an action's destruction reason uses: `closed by alice`, `destroyed by nightshift (...)`.
pub(crate) fn destroyed_reason(action: ReleaseAction, requested_by: &str) -> String {
    match action {
        ReleaseAction::Close => format!("closed by {requested_by}"),
        _ => format!("destroyed by {requested_by}"),
    }
}
