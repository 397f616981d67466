//! The use cases, one per function: nightly scheduling, release intake, step dispatch, step events, the job
//! watchdog, the expiry sweep and status.
//!
//! Each takes an invocation's input, asks the core for decisions, stores them with conditional writes and returns
//! the messages the Functions host should send through its output bindings. A message that can never succeed is
//! recorded as rejected and acknowledged; only what a retry can fix is an error.

use crate::catalog_files;
use crate::repo::{EnvironmentRecord, Rejected, Repo};
use crate::settings::{Mode, Settings};
use crate::telemetry;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use nightshift_core::catalog::{Catalog, CatalogError, EnvironmentKind, Platform};
use nightshift_core::engine::{self, Command, Dispatch, Event, JobObservation, WatchdogPolicy};
use nightshift_core::expiry::{self, PersistentSet, SweepPlan};
use nightshift_core::messages::{
    Rejection, Release, StepEventMessage, StepMessage, StepOutcome, STEPS_QUEUE,
};
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::ports::{
    Bus, Clock, Cloud, Deletion, JobSpec, JobStart, JobState, Jobs, Notifier, OutboundMessage,
    PortError, Precondition, Secrets, Store,
};
use nightshift_core::run::{Run, RunStatus, StepStatus, Trigger};
use nightshift_core::{EnvironmentName, JobName, ProductName, RunId, StepName};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The adapters behind the ports.
#[derive(Clone)]
pub struct Ports {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub jobs: Arc<dyn Jobs>,
    pub cloud: Arc<dyn Cloud>,
    pub notifier: Arc<dyn Notifier>,
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
    fn log(&mut self, line: impl Into<String>) {
        let line = line.into();
        tracing::info!("{line}");
        self.logs.push(line);
    }
}

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
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub instance: String,
    pub mode: String,
    pub now: DateTime<Utc>,
    pub runs: Vec<RunSummary>,
    pub environments: Vec<EnvironmentRecord>,
    pub rejected: Vec<Rejected>,
}

/// Resource groups deleted at once by a sweep.
const SWEEP_CONCURRENCY: usize = 8;

pub struct App {
    pub ports: Ports,
    pub repo: Repo,
    pub settings: Settings,
}

fn body_excerpt(body: &str) -> String {
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

    pub fn catalog(&self) -> Result<Catalog, CatalogError> {
        catalog_files::load(&self.settings.catalog_dir)
    }

    fn platform(&self) -> Platform {
        match self.settings.mode {
            Mode::Local => Platform::Local,
            Mode::Azure => Platform::Azure,
        }
    }

    /// Carries out the core's commands; immediate dispatches become output-binding messages.
    async fn execute(&self, commands: Vec<Command>, out: &mut Outputs) -> Result<(), AppError> {
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
                    // People being told late is better than a run held up: a failed notification is logged only.
                    if let Err(e) = self.ports.notifier.notify(&n).await {
                        tracing::warn!(error = %e, "notification failed: {}", n.text);
                    }
                }
            }
        }
        Ok(())
    }

    async fn record_environment(&self, run: &Run) -> Result<(), AppError> {
        if run.status == RunStatus::Waiting {
            // The environment belongs to the run it waits for until then.
            return Ok(());
        }
        let rec = EnvironmentRecord {
            product: run.product.to_string(),
            environment: run.environment.to_string(),
            kind: run.kind.as_str().to_string(),
            last_run: run.id.to_string(),
            status: match run.status {
                RunStatus::Running | RunStatus::Waiting => "building",
                RunStatus::Succeeded => "ready",
                RunStatus::Failed => "failed",
            }
            .to_string(),
            expires_at: run.expires_at,
            destroyed_at: None,
            destroyed_reason: None,
        };
        self.repo.put_environment(&rec).await?;
        Ok(())
    }

    /// Creates a run unless it exists, and starts it. A repeat (two firings, a redelivered release) starts nothing
    /// new; it re-sends the dispatches of steps still queued, in case the first outputs were lost.
    async fn start_run(&self, run: Run, out: &mut Outputs) -> Result<(), AppError> {
        let now = self.now();
        if self.repo.create_run(&run).await? {
            out.log(format!(
                "run {} created ({} steps, expires {})",
                run.id,
                run.steps.len(),
                run.expires_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "never".into())
            ));
            // One run builds an environment at a time: a second one waits for the first to finish.
            let event = match self.repo.acquire_lease(&run).await? {
                None => Event::Start,
                Some(behind) => Event::Wait { behind },
            };
            if let Some((run, commands, _)) = self.repo.apply(&run.id, &event, now).await? {
                self.record_environment(&run).await?;
                self.execute(commands, out).await?;
            }
        } else if let Some(existing) = self.repo.run(&run.id).await? {
            out.log(format!(
                "run {} exists already ({:?}): not started again",
                run.id, existing.status
            ));
            match existing.status {
                RunStatus::Waiting => {
                    self.start_next_waiting(&existing.product, &existing.environment, out)
                        .await?
                }
                _ => {
                    self.execute(engine::redispatch_queued(&existing), out)
                        .await?
                }
            }
        }
        Ok(())
    }

    /// A run has finished: it leaves the active index, and the oldest run waiting for its environment starts.
    async fn after_finish(&self, run: &Run, out: &mut Outputs) -> Result<(), AppError> {
        telemetry::emit(
            telemetry::RUN_FINISHED,
            serde_json::json!({
                "product": run.product, "environment": run.environment, "run_id": run.id, "kind": run.kind.as_str(),
                "version": run.trigger.version(),
                "outcome": if run.status == RunStatus::Succeeded { "succeeded" } else { "failed" },
                "duration_ms": (run.duration_secs(self.now()) * 1000.0).round(), "reason": run.reason,
            }),
        );
        self.record_environment(run).await?;
        self.repo.clear_active(&run.id).await?;
        self.start_next_waiting(&run.product, &run.environment, out)
            .await
    }

    /// Starts the oldest waiting run of an environment if the environment is free (idempotent: the watchdog calls
    /// it again when a hand-over was lost).
    async fn start_next_waiting(
        &self,
        product: &ProductName,
        env: &EnvironmentName,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        let next = self.repo.active_runs().await?.into_iter().find(|r| {
            &r.product == product && &r.environment == env && r.status == RunStatus::Waiting
        });
        let Some(next) = next else { return Ok(()) };
        if self.repo.acquire_lease(&next).await?.is_none() {
            if let Some((run, commands, true)) =
                self.repo.apply(&next.id, &Event::Start, self.now()).await?
            {
                out.log(format!("run {} starts: {product}/{env} is free", run.id));
                self.record_environment(&run).await?;
                self.execute(commands, out).await?;
            }
        }
        Ok(())
    }

    /// The nightly timer: starts a run for every environment due tonight.
    #[tracing::instrument(skip_all)]
    pub async fn nightly(&self) -> Result<Outputs, AppError> {
        let catalog = self.catalog()?;
        let now = self.now();
        let mut out = Outputs::default();
        for product in catalog.products.values() {
            if product.platform != self.platform() {
                continue;
            }
            for env in product
                .environments
                .values()
                .filter(|e| e.kind == EnvironmentKind::Nightly)
            {
                let Some(schedule) = &env.schedule else {
                    continue;
                };
                let Some(night) = nightshift_core::schedule::due_night(schedule, now) else {
                    continue;
                };
                let run = planner::plan(PlanRequest {
                    product,
                    environment: &env.name,
                    trigger: Trigger::Nightly { night },
                    ttl: None,
                    instance: &self.settings.instance,
                    now,
                })
                .map_err(|e| PortError::Permanent(e.to_string()))?;
                self.start_run(run, &mut out).await?;
            }
        }
        Ok(out)
    }

    async fn reject(
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

    /// A release message: start a run of a version in an environment.
    #[tracing::instrument(skip_all, fields(message_id))]
    pub async fn release(&self, body: &str, message_id: &str) -> Result<Outputs, AppError> {
        let mut out = Outputs::default();
        let release = match Release::decode(body) {
            Ok(r) => r,
            Err(why) => {
                self.reject("releases", message_id, body, &why, &mut out)
                    .await?;
                return Ok(out);
            }
        };
        let catalog = self.catalog()?;
        let plan = catalog
            .product(release.product.as_str())
            .ok_or_else(|| {
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
            })
            .and_then(|product| {
                if product.platform != self.platform() {
                    return Err(Rejection::new(format!(
                        "product {} runs on the {:?} platform, this instance is in {} mode",
                        product.name,
                        product.platform,
                        self.settings.mode.as_str()
                    )));
                }
                planner::plan(PlanRequest {
                    product,
                    environment: &release.environment,
                    trigger: Trigger::Release {
                        version: release.version.clone(),
                        requested_by: release.requested_by.clone(),
                        message_id: message_id.to_string(),
                    },
                    ttl: release.ttl,
                    instance: &self.settings.instance,
                    now: self.now(),
                })
                .map_err(|e| Rejection::new(e.to_string()))
            });
        match plan {
            Ok(run) => self.start_run(run, &mut out).await?,
            Err(why) => {
                self.reject("releases", message_id, body, &why, &mut out)
                    .await?
            }
        }
        Ok(out)
    }

    /// Builds the job of one attempt.
    fn job_spec(&self, run: &Run, step: &StepName, attempt: u32, job: &JobName) -> JobSpec {
        let s = &run.steps[step];
        let mut env: BTreeMap<String, String> = self.settings.job_env().into_iter().collect();
        env.insert("NIGHTSHIFT_RUN_ID".into(), run.id.to_string());
        env.insert("NIGHTSHIFT_STEP".into(), step.to_string());
        env.insert("NIGHTSHIFT_ATTEMPT".into(), attempt.to_string());
        JobSpec {
            name: job.clone(),
            run_id: run.id.clone(),
            step: step.clone(),
            attempt,
            env,
            secrets: s.def.secrets.clone(),
            cpu: s.def.resources.cpu,
            memory_gb: s.def.resources.memory_gb,
        }
    }

    /// A `steps` message: start the job of a step attempt, once.
    #[tracing::instrument(skip_all, fields(message_id))]
    pub async fn dispatch(&self, body: &str, message_id: &str) -> Result<Outputs, AppError> {
        let mut out = Outputs::default();
        let msg = match StepMessage::decode(body) {
            Ok(m) => m,
            Err(why) => {
                self.reject(STEPS_QUEUE, message_id, body, &why, &mut out)
                    .await?;
                return Ok(out);
            }
        };
        let Some(run) = self.repo.run(&msg.run_id).await? else {
            self.reject(
                STEPS_QUEUE,
                message_id,
                body,
                &Rejection::new(format!("no run {}", msg.run_id)),
                &mut out,
            )
            .await?;
            return Ok(out);
        };
        let job = match engine::dispatch(&run, &msg.step, msg.attempt) {
            Dispatch::Ignore { reason } => {
                out.log(format!(
                    "dispatch of {}/{} attempt {} ignored: {reason}",
                    msg.run_id, msg.step, msg.attempt
                ));
                return Ok(out);
            }
            Dispatch::Start { job } => job,
        };
        let spec = self.job_spec(&run, &msg.step, msg.attempt, &job);
        match self.ports.jobs.start(&spec).await? {
            JobStart::Started => out.log(format!(
                "job {job} started for {}/{} attempt {}",
                msg.run_id, msg.step, msg.attempt
            )),
            JobStart::AlreadyExists => {
                out.log(format!("job {job} exists already: not started again"))
            }
        }
        let event = Event::JobStarted {
            step: msg.step.clone(),
            attempt: msg.attempt,
            job,
        };
        if let Some((_, commands, _)) = self.repo.apply(&msg.run_id, &event, self.now()).await? {
            self.execute(commands, &mut out).await?;
        }
        Ok(out)
    }

    /// A `step-events` message: record a job's result and send the steps it made ready.
    #[tracing::instrument(skip_all, fields(message_id))]
    pub async fn step_event(&self, body: &str, message_id: &str) -> Result<Outputs, AppError> {
        let mut out = Outputs::default();
        let msg = match StepEventMessage::decode(body) {
            Ok(m) => m,
            Err(why) => {
                self.reject("step-events", message_id, body, &why, &mut out)
                    .await?;
                return Ok(out);
            }
        };
        self.apply_result(&msg, &mut out).await?;
        Ok(out)
    }

    async fn apply_result(
        &self,
        msg: &StepEventMessage,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        let event = match msg.outcome {
            StepOutcome::Succeeded => Event::StepSucceeded {
                step: msg.step.clone(),
                attempt: msg.attempt,
                outputs: msg.outputs.clone(),
            },
            StepOutcome::Failed | StepOutcome::Interrupted => Event::StepFailed {
                step: msg.step.clone(),
                attempt: msg.attempt,
                reason: msg
                    .reason
                    .clone()
                    .unwrap_or_else(|| format!("exit code {:?}", msg.exit_code)),
                retryable: !msg.permanent,
            },
        };
        let Some((run, commands, changed)) =
            self.repo.apply(&msg.run_id, &event, self.now()).await?
        else {
            out.log(format!("result for unknown run {} ignored", msg.run_id));
            return Ok(());
        };
        if changed {
            out.log(format!(
                "{}/{} attempt {}: {:?}",
                msg.run_id, msg.step, msg.attempt, msg.outcome
            ));
            telemetry::emit(
                telemetry::STEP_FINISHED,
                serde_json::json!({
                    "product": run.product, "environment": run.environment, "run_id": run.id, "step": msg.step,
                    "attempt": msg.attempt, "outcome": msg.outcome,
                    "duration_ms": (msg.finished_at - msg.started_at).num_milliseconds(), "error": msg.reason,
                }),
            );
            self.execute(commands, out).await?;
            if run.status.is_finished() {
                self.after_finish(&run, out).await?;
            }
            if self.settings.delete_finished_jobs {
                let job = JobName::for_attempt(&msg.run_id, &msg.step, msg.attempt);
                if let Err(e) = self.ports.jobs.delete(&job).await {
                    tracing::warn!(job = %job, error = %e, "finished job not deleted; the watchdog will retry");
                }
            }
        } else {
            // A duplicate: the first delivery may have lost its outputs; dispatch what is still queued.
            self.execute(engine::redispatch_queued(&run), out).await?;
        }
        Ok(())
    }

    /// The watchdog timer: reconciles runs with their jobs when messages were lost or jobs died.
    #[tracing::instrument(skip_all)]
    pub async fn watchdog(&self) -> Result<Outputs, AppError> {
        let mut out = Outputs::default();
        let policy = WatchdogPolicy {
            redispatch_after: Duration::seconds(self.settings.watchdog_redispatch_secs as i64),
            result_grace: Duration::seconds(self.settings.watchdog_result_grace_secs as i64),
        };
        // Only the active index: finished runs cost nothing, however many there are.
        for run in self.repo.active_runs().await? {
            match run.status {
                // Its last event was applied but the hand-over did not complete: finish it now.
                RunStatus::Succeeded | RunStatus::Failed => {
                    self.after_finish(&run, &mut out).await?;
                    continue;
                }
                // A lost hand-over: start it if its environment is free.
                RunStatus::Waiting => {
                    self.start_next_waiting(&run.product, &run.environment, &mut out)
                        .await?;
                    continue;
                }
                RunStatus::Running => {}
            }
            let mut observed = BTreeMap::new();
            for (name, s) in &run.steps {
                if !matches!(
                    s.status,
                    StepStatus::Queued | StepStatus::Running | StepStatus::Retrying
                ) {
                    continue;
                }
                let job = JobName::for_attempt(&run.id, name, s.attempt.max(1));
                let obs = match self.ports.jobs.state(&job).await? {
                    JobState::NotFound => (JobObservation::NotFound, None),
                    JobState::Running => (JobObservation::Running, None),
                    JobState::Exited { code, finished_at } => {
                        let result = self.repo.result(&run.id, name, s.attempt).await?;
                        let outputs = result
                            .as_ref()
                            .filter(|r| r.outcome == StepOutcome::Succeeded)
                            .map(|r| r.outputs.clone());
                        let reason = match result {
                            Some(r) => r.reason,
                            // The job died without reporting (killed, out of memory, image problem): keep what
                            // its platform logged, and say where it is.
                            None => {
                                self.attach_job_log(&run.id, name, s.attempt, &job, code)
                                    .await
                            }
                        };
                        (
                            JobObservation::Exited {
                                code,
                                outputs,
                                reason,
                            },
                            finished_at,
                        )
                    }
                };
                observed.insert(name.clone(), obs);
            }
            let (events, commands) = engine::reconcile(&run, self.now(), &observed, policy);
            for c in &commands {
                if let Command::Dispatch(m) = c {
                    out.log(format!(
                        "watchdog: re-dispatching {}/{} attempt {}",
                        m.run_id, m.step, m.attempt
                    ));
                }
            }
            self.execute(commands, &mut out).await?;
            for e in events {
                out.log(format!("watchdog: {} {e:?}", run.id));
                if let Event::StepFailed {
                    step,
                    attempt,
                    reason,
                    ..
                } = &e
                {
                    telemetry::emit(
                        telemetry::STEP_FINISHED,
                        serde_json::json!({
                            "product": run.product, "environment": run.environment, "run_id": run.id, "step": step,
                            "attempt": attempt, "outcome": "failed", "error": reason, "found_by": "watchdog",
                        }),
                    );
                }
                if let Some((run, commands, true)) =
                    self.repo.apply(&run.id, &e, self.now()).await?
                {
                    self.execute(commands, &mut out).await?;
                    if run.status.is_finished() {
                        self.after_finish(&run, &mut out).await?;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Copies a job's platform log into the journal (unless the runner stored one) and returns a failure reason
    /// that ends with the log's last lines.
    async fn attach_job_log(
        &self,
        run: &RunId,
        step: &StepName,
        attempt: u32,
        job: &JobName,
        code: i32,
    ) -> Option<String> {
        let key = crate::repo::log_key(run, step, attempt);
        let log = match self.ports.jobs.logs(job).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(job = %job, error = %e, "job log not read");
                String::new()
            }
        };
        if !log.is_empty() {
            // The runner's own log, if it managed to store one, is the better record: keep it.
            match self
                .ports
                .store
                .put(&key, log.clone().into_bytes(), Precondition::Absent)
                .await
            {
                Ok(_) | Err(PortError::Conflict(_)) => {}
                Err(e) => tracing::warn!(job = %job, error = %e, "job log not stored"),
            }
        }
        let tail: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
        Some(format!(
            "its job exited with code {code} without reporting a result (log: {key}){}",
            if tail.is_empty() {
                String::new()
            } else {
                format!(": {tail}")
            }
        ))
    }

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
                self.forget_environment(&product, &env, now, &reason)
                    .await?;
            }
        }
        Ok(report)
    }

    /// After its groups are gone, an environment's Terraform state describes nothing: drop it so the next build
    /// starts clean, and mark the environment destroyed.
    async fn forget_environment(
        &self,
        product: &str,
        env: &str,
        now: DateTime<Utc>,
        reason: &str,
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
            rec.status = "destroyed".into();
            rec.destroyed_at = Some(now);
            rec.destroyed_reason = Some(reason.to_string());
            self.repo.put_environment(&rec).await?;
        }
        Ok(())
    }

    pub async fn status(&self) -> Result<StatusReport, AppError> {
        let now = self.now();
        let runs = self
            .repo
            .runs()
            .await?
            .iter()
            .map(|r| summarize(r, now))
            .collect();
        Ok(StatusReport {
            instance: self.settings.instance.clone(),
            mode: self.settings.mode.as_str().into(),
            now,
            runs,
            environments: self.repo.environments().await?,
            rejected: self.repo.rejected().await?,
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
    }
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
