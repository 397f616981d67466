//! The application: the adapters behind the ports, the errors a use case returns, and what every use case shares:
//! carrying out the core's commands, starting runs, recording environments and rejections.
//!
//! Each use case lives in its own module under [`crate::usecases`], one per function: nightly scheduling, release
//! intake, step dispatch, step events, the job watchdog, the expiry sweep and status. Each takes an invocation's
//! input, asks the core for decisions, stores them with conditional writes and returns the messages the Functions
//! host should send through its output bindings. A message that can never succeed is recorded as rejected and
//! acknowledged; only what a retry can fix is an error.

use crate::catalog_files;
use crate::repo::{Rejected, Repo};
use crate::settings::{Mode, Settings};
use crate::telemetry;
use chrono::{DateTime, Utc};
use nightshift_core::catalog::{Catalog, CatalogError, Platform};
use nightshift_core::engine::{self, Command, Event};
use nightshift_core::messages::{Rejection, STEPS_QUEUE};
use nightshift_core::ports::{
    Bus, Clock, Cloud, Jobs, Notifier, OutboundMessage, PortError, Secrets, Store,
};
use nightshift_core::run::{Run, RunStatus};
use nightshift_core::{EnvironmentName, ProductName};
use std::sync::Arc;

/// The adapters behind the ports.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub jobs: Arc<dyn Jobs>,
    pub cloud: Arc<dyn Cloud>,
    /// The record of every notification (a log event, the local notifications file): never fails a delivery.
    pub notifier: Arc<dyn Notifier>,
    /// Where people are told (webhooks, GitHub): each delivery is recorded, retried and measured
    /// ([`crate::usecases::notify`]).
    pub channels: Vec<Arc<dyn Notifier>>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    /// Where Terraform keeps state (`<product>/<environment>/<layer>.tfstate`), when it is not under the local
    /// state directory: the sweep deletes an environment's state once its groups are gone.
    pub tfstate: Option<Arc<dyn Store>>,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The catalog is malformed: nothing was done.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// An adapter failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

impl AppError {
    pub fn is_retryable(&self) -> bool {
        match self {
            AppError::Catalog(_) => false,
            AppError::Port(p) => p.is_retryable(),
        }
    }
}

/// What an invocation returns to the host: messages for the `steps` output binding, and log lines.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outputs {
    pub steps: Vec<String>,
    pub logs: Vec<String>,
}

impl Outputs {
    pub(crate) fn log(&mut self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!("{line}");
        self.logs.push(line);
    }
}

/// Resource groups deleted at once by a sweep.
pub(crate) const SWEEP_CONCURRENCY: usize = 8;

pub struct App {
    pub ports: Ports,
    pub repo: Repo,
    pub settings: Settings,
}

pub(crate) fn body_excerpt(body: &str) -> String {
    let mut s = body.to_string();
    if s.len() > 4096 {
        let mut cut = 4096;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

impl App {
    pub fn new(ports: Ports, settings: Settings) -> Self {
        Self {
            repo: Repo::new(ports.store.clone()),
            ports,
            settings,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }

    /// The catalog after the whole validation (see [`catalog_files::load_validated`]): every use case that acts
    /// reads it here, before it writes anything. Locally the repository is at hand and each stack and playbook
    /// must resolve inside it; the Functions package on Azure carries no stacks, so there only their paths' shape
    /// is checked, and the runner resolves them before it runs anything.
    pub fn catalog(&self) -> Result<Catalog, CatalogError> {
        let root = (self.settings.mode == Mode::Local).then_some(self.settings.repo_root.as_path());
        catalog_files::load_validated(&self.settings.catalog_dir, root)
            .map_err(catalog_files::first_problem)
    }

    pub(crate) fn platform(&self) -> Platform {
        match self.settings.mode {
            Mode::Local => Platform::Local,
            Mode::Azure => Platform::Azure,
        }
    }

    /// Carries out the core's commands; immediate dispatches become output-binding messages.
    pub(crate) async fn execute(
        &self,
        commands: Vec<Command>,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        for c in commands {
            match c {
                Command::Dispatch(m) => out
                    .steps
                    .push(serde_json::to_string(&m).expect("serializable")),
                Command::DispatchAt(m, at) => {
                    self.ports
                        .bus
                        .send(OutboundMessage {
                            queue: STEPS_QUEUE.into(),
                            body: serde_json::to_string(&m).expect("serializable"),
                            message_id: m.message_id(),
                            correlation_id: Some(m.run_id.to_string()),
                            scheduled_at: Some(at),
                        })
                        .await?;
                    out.log(format!(
                        "scheduled {} attempt {} of {} at {}",
                        m.step,
                        m.attempt,
                        m.run_id,
                        at.to_rfc3339()
                    ));
                }
                Command::StopJob(job) => {
                    if let Err(e) = self.ports.jobs.stop(&job).await {
                        tracing::warn!(job = %job, error = %e, "could not stop a timed-out job");
                    }
                }
                Command::Notify(n) => {
                    // People being told late is better than a run held up: a failed delivery is retried later
                    // and recorded, never an error of the run.
                    let n = self.enrich(n).await;
                    self.send_notification(&n).await;
                }
            }
        }
        Ok(())
    }

    /// Creates a run unless it exists, and starts it. A repeat (two firings, a redelivered release) starts nothing
    /// new; it starts a run that was created but never started (its creator died in between), or re-sends the
    /// dispatches of steps still queued, in case the first outputs were lost.
    pub(crate) async fn start_run(&self, mut run: Run, out: &mut Outputs) -> Result<(), AppError> {
        // A teardown run destroys layers: it continues nothing (no expiry to carry, no removed layer to add).
        if !run.trigger.is_teardown() && self.repo.run(&run.id).await?.is_none() {
            self.continue_environment(&mut run, out).await?;
            // Indexed before it exists ("intended"): a crash after the run's write leaves no run unlisted.
            self.index_run(&run).await?;
        }
        if self.repo.create_run(&run).await? {
            out.log(format!(
                "run {} created ({} steps, expires {})",
                run.id,
                run.steps.len(),
                run.expires_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "never".into())
            ));
            return self.ensure_started(&run, out).await;
        }
        let Some(existing) = self.repo.run(&run.id).await? else {
            return Ok(());
        };
        self.rejoin_run(&existing, out).await
    }

    /// A trigger that arrived again for a run that exists (a second firing, a redelivered release): nothing new
    /// starts; a run whose first start was cut short starts, and dispatches of steps still queued are sent again
    /// in case the first outputs were lost (their deterministic ids make the repeat harmless).
    pub(crate) async fn rejoin_run(
        &self,
        existing: &Run,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        match existing.status {
            RunStatus::Waiting => {
                out.log(format!("run {} exists already and waits", existing.id));
                self.start_next_waiting(&existing.product, &existing.environment, out)
                    .await
            }
            RunStatus::Running if never_started(existing) => {
                out.log(format!(
                    "run {} exists but never started (its first start was cut short): starting it",
                    existing.id
                ));
                self.ensure_started(existing, out).await
            }
            status => {
                out.log(format!(
                    "run {} exists already ({status:?}): not started again",
                    existing.id
                ));
                self.execute(engine::redispatch_queued(existing), out).await
            }
        }
    }

    /// Starts a run that exists but has not started: it takes its environment's lease and queues its first steps,
    /// or waits behind the run that holds the lease. Idempotent: the lease is the run's own on a repeat, and the
    /// engine applies `Start` and `Wait` only to a run none of whose steps was ever queued, so whoever gets here
    /// second (a redelivery, the scheduler's next firing, the watchdog) changes nothing.
    pub(crate) async fn ensure_started(
        &self,
        run: &Run,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        // One run builds an environment at a time: a second one waits for the first to finish. It is indexed as
        // waiting before it is marked so, so the run ahead finds it whatever line this process dies at.
        let event = match self.repo.acquire_lease(run).await? {
            None => Event::Start,
            Some(behind) => {
                self.repo.mark_waiting(run).await?;
                Event::Wait { behind }
            }
        };
        if let Some((run, commands, changed)) = self.repo.apply(&run.id, &event, self.now()).await?
        {
            if matches!(event, Event::Wait { .. }) && run.status != RunStatus::Waiting {
                self.repo.unmark_waiting(&run).await?;
            }
            if changed {
                self.record_environment(&run).await?;
                self.execute(commands, out).await?;
            }
        }
        Ok(())
    }

    /// A run has finished: it leaves the active index, and the oldest run waiting for its environment starts.
    pub(crate) async fn after_finish(&self, run: &Run, out: &mut Outputs) -> Result<(), AppError> {
        telemetry::emit(
            telemetry::RUN_FINISHED,
            telemetry::run_finished(run, self.now()),
        );
        let rec = self.record_environment(run).await?;
        if let nightshift_core::run::Trigger::Teardown {
            reason,
            requested_by,
            ..
        } = &run.trigger
        {
            // Layers owning resources outside the groups are gone: now the groups, the state and the record. A
            // failed teardown keeps them all; the sweep tries it again on a later pass.
            self.repo.clear_active(&run.id).await?;
            let (product, env) = (run.product.as_str(), run.environment.as_str());
            if run.status == RunStatus::Succeeded {
                let torn = self
                    .teardown(product, env, reason, requested_by, out)
                    .await?;
                out.log(format!(
                    "{product}/{env} after teardown run {}: {torn:?}",
                    run.id
                ));
            } else {
                out.log(format!(
                    "{product}/{env}: teardown run {} failed ({}): resource groups and state kept, tried again by the sweep",
                    run.id,
                    run.reason.as_deref().unwrap_or("no reason")
                ));
            }
            return self
                .start_next_waiting(&run.product, &run.environment, out)
                .await;
        }
        // The environment's technical dossier (docs/dossier.md): a failure to generate it never fails the run.
        match self.store_dossier(run).await {
            Ok(Some(key)) => out.log(format!("dossier of {} stored at {key}", run.id)),
            Ok(None) => {}
            Err(e) => tracing::warn!("dossier of {} not generated: {e}", run.id),
        }
        self.repo.clear_active(&run.id).await?;
        // The lifecycle after a build: a close that waited for it, the expiry someone moved during it (the build's
        // Terraform re-applied its own tags), and the failure policy.
        // An environment being destroyed meanwhile gets no failure policy nor retag from this build.
        if let Some(rec) = rec.filter(|r| r.is_live()) {
            self.after_build(run, &rec, out).await?;
        }
        self.start_next_waiting(&run.product, &run.environment, out)
            .await
    }

    /// Starts the oldest waiting run of an environment if the environment is free (idempotent: the watchdog calls
    /// it again when a hand-over was lost). The environment's waiting index names the candidates
    /// ([`crate::waiting`]): only they are read, however many runs are active elsewhere.
    pub(crate) async fn start_next_waiting(
        &self,
        product: &ProductName,
        env: &EnvironmentName,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        for (key, id) in self.repo.waiting_runs(product, env).await? {
            let next = match self.repo.run(&id).await? {
                Some(r) if r.status == RunStatus::Waiting => r,
                // Started, finished or gone: the key outlived a crash or a hand-over; drop it.
                _ => {
                    self.repo.store().delete(&key).await?;
                    continue;
                }
            };
            if self.repo.acquire_lease(&next).await?.is_none() {
                if let Some((run, commands, changed)) =
                    self.repo.apply(&next.id, &Event::Start, self.now()).await?
                {
                    if changed {
                        out.log(format!("run {} starts: {product}/{env} is free", run.id));
                        self.record_environment(&run).await?;
                        self.execute(commands, out).await?;
                    }
                    if run.status != RunStatus::Waiting {
                        self.repo.unmark_waiting(&run).await?;
                    }
                }
            }
            break;
        }
        Ok(())
    }

    /// Records a message that can never succeed, so it is acknowledged instead of retried.
    pub(crate) async fn reject(
        &self,
        queue: &str,
        message_id: &str,
        body: &str,
        why: &Rejection,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        out.log(format!(
            "rejected message {message_id} on {queue}: {}",
            why.reason
        ));
        tracing::warn!(queue, message_id, reason = %why.reason, "message rejected");
        telemetry::emit(
            telemetry::MESSAGE_REJECTED,
            serde_json::json!({ "queue": queue, "message_id": message_id, "reason": why.reason }),
        );
        self.repo
            .reject(&Rejected {
                at: self.now(),
                queue: queue.into(),
                message_id: message_id.into(),
                reason: why.reason.clone(),
                body: body_excerpt(body),
            })
            .await?;
        Ok(())
    }
}

/// A run that exists and is not waiting, but none of whose steps was ever queued: whoever created it died before
/// starting it (the lease or the first update was never written).
pub(crate) fn never_started(run: &Run) -> bool {
    run.status == RunStatus::Running && run.steps.values().all(|s| s.attempt == 0)
}

/// For tests and the CLI: a secrets port that has none.
pub struct NoSecrets;

#[async_trait::async_trait]
impl Secrets for NoSecrets {
    async fn get(&self, name: &str) -> Result<nightshift_core::ports::SecretValue, PortError> {
        Err(PortError::Permanent(format!(
            "no secret store configured (secret {name:?})"
        )))
    }
}

pub use crate::usecases::status::{summarize, RunSummary, StatusReport, StepSummary};
pub use crate::usecases::sweep::{SweepItem, SweepReport};
