//! Before an environment's resource groups are deleted (the sweep, `close`, `destroy`), the layers that own
//! resources outside them (`teardown: terraform`: DNS records at Cloudflare) are destroyed by a teardown run, a job
//! per layer like any step (issue 10, finding 2). Without it the records would outlive the sweep, the state that
//! knows them would be dropped, and the next build would fail creating a record that exists.
//!
//! The teardown is recorded on the environment's pending deletions (`pending-deletions/<group>.json`) before its
//! run starts, so a pass killed mid-way finds it again and starts the same run (its id is deterministic); the groups
//! and the state go only once that run succeeded. A failed teardown keeps them (fail closed), is reported, and is
//! tried again as the next attempt on a later pass. The decisions are the core's ([`nightshift_core::teardown`]).

use crate::service::{App, AppError, Outputs};
use crate::usecases::sweep_pending::{pending_key, PendingDeletion};
use nightshift_core::messages::{StepMessage, STEPS_QUEUE};
use nightshift_core::ports::{OutboundMessage, PortError};
use nightshift_core::run::Run;
use nightshift_core::teardown::{self, Progress, Recorded};
use nightshift_core::RunId;
use serde::{Deserialize, Serialize};

/// The teardown of an environment's outside layers, as its pending deletions record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerTeardown {
    /// The teardown run.
    pub run: String,
    /// The build whose layers it destroys.
    pub of: String,
    pub attempt: u32,
    pub layers: Vec<String>,
    pub requested_by: String,
}

/// Where an environment's outside layers stand before its groups may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layers {
    /// None left (or none ever): the groups may be deleted.
    Gone,
    /// Being destroyed: the groups and the state wait (what to say).
    Destroying(String),
    /// Their last teardown failed, or they could not be looked at: the groups and the state stay (what to say).
    Failed(String),
}

impl App {
    /// Where the outside layers of `product/env` stand, and the teardown started (or started again) when needed:
    /// `groups` are the environment's groups to delete once they are gone. The teardown run's first dispatches go
    /// into `out`.
    pub(crate) async fn outside_layers(
        &self,
        product: &str,
        env: &str,
        groups: &[String],
        reason: &str,
        requested_by: &str,
        out: &mut Outputs,
    ) -> Result<Layers, AppError> {
        let declared = self.declares_outside_layers(product);
        let rec = match self.repo.environment(product, env).await {
            Ok(rec) => rec,
            // Which layers a build applied is in the record: unreadable, and the catalog says the product has
            // such layers, nothing is deleted (fail closed).
            Err(e) if declared => {
                return Ok(Layers::Failed(format!(
                    "cannot tell which layers own resources outside the groups ({e}): groups and state kept"
                )))
            }
            Err(_) => return Ok(Layers::Gone),
        };
        let ids: Vec<String> = match &rec {
            Some(r) => [Some(r.last_run.clone()), r.last_success_run.clone()]
                .into_iter()
                .flatten()
                .collect(),
            None => Vec::new(),
        };
        let mut builds: Vec<Run> = Vec::new();
        for id in &ids {
            if let Ok(id) = RunId::parse(id) {
                if let Some(run) = self.repo.run(&id).await? {
                    builds.push(run);
                }
            }
        }
        if rec.is_none() && declared {
            // No environment record (lost, or a build cut short before it wrote one): the environment's runs are
            // in its index, written before each run is created, so a build that applied a layer is found there.
            if let Ok(name) = nightshift_core::EnvironmentName::parse(env) {
                let mut recent = self.runs_for(product, &name).await?;
                recent.reverse(); // newest first
                builds = recent;
            }
        }
        let refs: Vec<&Run> = builds.iter().collect();
        let source = teardown::source(&refs);
        let pending: Vec<PendingDeletion> = self
            .pending_deletions()
            .await?
            .into_iter()
            .filter(|p| {
                p.product.as_deref() == Some(product) && p.environment.as_deref() == Some(env)
            })
            .collect();
        let recorded = pending
            .iter()
            .filter_map(|p| p.teardown.as_ref())
            .max_by_key(|t| t.attempt)
            .and_then(|t| {
                Some(Recorded {
                    run: RunId::parse(&t.run).ok()?,
                    of: RunId::parse(&t.of).ok()?,
                    attempt: t.attempt,
                })
            });
        let recorded_run = match &recorded {
            Some(r) => self.repo.run(&r.run).await?,
            None => None,
        };
        let decision = teardown::progress(
            source.map(|b| &b.id),
            recorded.as_ref(),
            recorded_run.as_ref(),
        );
        let (attempt, failed) = match decision {
            Progress::Gone => return Ok(Layers::Gone),
            Progress::Destroying(run) => {
                let layers = recorded_run
                    .map(|r| r.steps.keys().map(|k| k.to_string()).collect::<Vec<_>>())
                    .unwrap_or_default();
                return Ok(Layers::Destroying(format!(
                    "destroying {} first (run {run}): the groups go once they are gone",
                    layers.join(", ")
                )));
            }
            Progress::Start { attempt, failed } => (attempt, failed),
        };
        let build = source.expect("a teardown starts only from a build");
        let run = teardown::teardown_run(build, attempt, reason, requested_by, self.now())
            .expect("the source build has outside layers");
        let layers: Vec<String> = run.steps.keys().map(|k| k.to_string()).collect();
        let record = LayerTeardown {
            run: run.id.to_string(),
            of: build.id.to_string(),
            attempt,
            layers: layers.clone(),
            requested_by: requested_by.to_string(),
        };
        // Recorded before the run starts: a pass that dies in between finds the same run to start again.
        let last_error = match &failed {
            Some(why) => format!("teardown of {} failed: {why}", layers.join(", ")),
            None => format!("destroying {} first", layers.join(", ")),
        };
        for group in groups {
            let since = pending
                .iter()
                .find(|p| &p.resource_group == group)
                .map(|p| p.since)
                .unwrap_or_else(|| self.now());
            self.record_pending_deletion(&PendingDeletion {
                resource_group: group.clone(),
                product: Some(product.to_string()),
                environment: Some(env.to_string()),
                reason: reason.to_string(),
                since,
                last_error: last_error.clone(),
                teardown: Some(record.clone()),
            })
            .await?;
        }
        let id = run.id.clone();
        self.start_run(run, out).await?;
        tracing::info!(product, env, run = %id, "destroying layers that own resources outside the groups: {}", layers.join(", "));
        Ok(match failed {
            None => Layers::Destroying(format!(
                "destroying {} first (run {id}): the groups go once they are gone",
                layers.join(", ")
            )),
            Some(why) => Layers::Failed(format!(
                "layers {} not destroyed ({why}): groups and state kept, tried again (run {id})",
                layers.join(", ")
            )),
        })
    }

    /// Whether the catalog gives `product` a layer owning resources outside its groups (a catalog that does not
    /// load says yes: fail closed).
    fn declares_outside_layers(&self, product: &str) -> bool {
        match self.catalog() {
            Ok(c) => c
                .product(product)
                .is_some_and(|p| p.steps.values().any(|s| s.teardown.is_some())),
            Err(_) => true,
        }
    }

    /// Sends the dispatches an invocation without a `steps` output binding (the sweep's timer) collected.
    pub(crate) async fn send_dispatches(&self, out: &mut Outputs) -> Result<(), AppError> {
        for body in std::mem::take(&mut out.steps) {
            let m: StepMessage = serde_json::from_str(&body).map_err(|e| {
                PortError::Permanent(format!("a dispatch of our own does not parse: {e}"))
            })?;
            self.ports
                .bus
                .send(OutboundMessage {
                    queue: STEPS_QUEUE.into(),
                    body,
                    message_id: m.message_id(),
                    correlation_id: Some(m.run_id.to_string()),
                    scheduled_at: None,
                })
                .await?;
        }
        Ok(())
    }

    /// Once an environment's groups are gone, its pending deletions have nothing left to finish.
    pub(crate) async fn drop_pending_deletions(&self, groups: &[String]) -> Result<(), AppError> {
        for g in groups {
            self.repo.store().delete(&pending_key(g)).await?;
        }
        Ok(())
    }
}
