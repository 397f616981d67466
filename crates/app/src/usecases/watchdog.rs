//! The job watchdog (`job-watchdog`): reconciles runs with their jobs when messages were lost or jobs died.

use crate::service::{never_started, App, AppError, Outputs};
use crate::slots::Holder;
use crate::telemetry;
use chrono::Duration;
use nightshift_core::engine::{self, Command, Event, JobObservation, WatchdogPolicy};
use nightshift_core::messages::StepOutcome;
use nightshift_core::ports::{JobState, PortError, Precondition};
use nightshift_core::run::{RunStatus, StepStatus};
use nightshift_core::{JobName, RunId, StepName};
use std::collections::{BTreeMap, BTreeSet};

impl App {
    /// The watchdog timer: reconciles runs with their jobs when messages were lost or jobs died.
    #[tracing::instrument(skip_all)]
    pub async fn watchdog(&self) -> Result<Outputs, AppError> {
        let mut out = Outputs::default();
        let policy = WatchdogPolicy {
            redispatch_after: Duration::seconds(self.settings.watchdog_redispatch_secs as i64),
            result_grace: Duration::seconds(self.settings.watchdog_result_grace_secs as i64),
        };
        // Job slots whose holders died go back; attempts waiting for one are not lost, so not re-dispatched.
        let slot_waiters: BTreeSet<Holder> =
            self.reclaim_slots(&mut out).await?.into_iter().collect();
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
                    // Heals a waiting run missing from its environment's index (a crash, an older state).
                    self.repo.mark_waiting(&run).await?;
                    self.start_next_waiting(&run.product, &run.environment, &mut out)
                        .await?;
                    continue;
                }
                // Created, but its creator died before starting it: start it now.
                RunStatus::Running if never_started(&run) => {
                    out.log(format!(
                        "watchdog: run {} never started: starting it",
                        run.id
                    ));
                    self.ensure_started(&run, &mut out).await?;
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
            let (events, mut commands) = engine::reconcile(&run, self.now(), &observed, policy);
            commands.retain(|c| {
                !matches!(c, Command::Dispatch(m)
                    if slot_waiters.contains(&Holder::new(&m.run_id, &m.step, m.attempt)))
            });
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
                            "kind": run.step(step).map(|s| s.def.action.kind()), "attempt": attempt, "outcome": "failed", "error": reason, "found_by": "watchdog",
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
                // The attempt is over: its job slot goes to the next waiting attempt.
                if let Event::StepSucceeded { step, attempt, .. }
                | Event::StepFailed { step, attempt, .. } = &e
                {
                    self.give_back_slot(&Holder::new(&run.id, step, *attempt), &mut out)
                        .await?;
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
}
