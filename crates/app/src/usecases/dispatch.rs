//! Step dispatch (`step-dispatch`): a `steps` message starts the job of one step attempt, once.

use crate::service::{App, AppError, Outputs};
use crate::slots::{Holder, SlotGrant};
use crate::telemetry;
use nightshift_core::engine::{self, Dispatch, Event};
use nightshift_core::messages::{Rejection, StepMessage, STEPS_QUEUE};
use nightshift_core::ports::{JobSpec, JobStart};
use nightshift_core::run::Run;
use nightshift_core::{JobName, StepName};
use std::collections::BTreeMap;

impl App {
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
        let Some(run) = self.repo.run_shared(&msg.run_id).await? else {
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
        let holder = Holder::new(&msg.run_id, &msg.step, msg.attempt);
        let job = match engine::dispatch(&run, &msg.step, msg.attempt) {
            Dispatch::Ignore { reason } => {
                out.log(format!(
                    "dispatch of {}/{} attempt {} ignored: {reason}",
                    msg.run_id, msg.step, msg.attempt
                ));
                // A slot given to an attempt that no longer waits (woken late) goes to the next waiter.
                self.give_back_slot(&holder, &mut out).await?;
                return Ok(out);
            }
            Dispatch::Start { job } => job,
        };
        // The global cap: no free job slot, no job; the attempt is dispatched again when one frees.
        if let SlotGrant::Waiting = self.take_slot(&run, &holder, &mut out).await? {
            return Ok(out);
        }
        // The job reads this instead of folding the run's whole journal (its size does not grow with the run).
        self.repo
            .put_assignment(&run, &msg.step, msg.attempt)
            .await?;
        let spec = self.job_spec(&run, &msg.step, msg.attempt, &job);
        let started = match self.ports.jobs.start(&spec).await {
            Ok(started) => started,
            // A job that can never start (a secret missing from the vault, a spec the platform refuses) fails its
            // step now, for good, with the reason: retrying the dispatch would only fill the dead-letter queue
            // while the step stays queued with no reason.
            Err(e) if !e.is_retryable() => {
                self.fail_unstartable(&msg, &e.to_string(), &mut out)
                    .await?;
                return Ok(out);
            }
            Err(e) => return Err(e.into()),
        };
        match started {
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

    async fn fail_unstartable(
        &self,
        msg: &StepMessage,
        why: &str,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        let reason = format!("its job cannot start: {why}");
        out.log(format!(
            "{}/{} attempt {} fails: {reason}",
            msg.run_id, msg.step, msg.attempt
        ));
        let event = Event::StepFailed {
            step: msg.step.clone(),
            attempt: msg.attempt,
            reason: reason.clone(),
            retryable: false,
        };
        if let Some((run, commands, true)) =
            self.repo.apply(&msg.run_id, &event, self.now()).await?
        {
            telemetry::emit(
                telemetry::STEP_FINISHED,
                serde_json::json!({
                    "product": run.product, "environment": run.environment, "run_id": run.id, "step": msg.step,
                    "attempt": msg.attempt, "outcome": "failed", "error": reason, "found_by": "dispatch",
                }),
            );
            self.execute(commands, out).await?;
            if run.status.is_finished() {
                self.after_finish(&run, out).await?;
            }
        }
        // It will never run: its job slot goes to the next waiting attempt.
        self.give_back_slot(&Holder::new(&msg.run_id, &msg.step, msg.attempt), out)
            .await
    }
}
