//! Step events (`step-events`): a job's result advances its run.

use crate::service::{App, AppError, Outputs};
use crate::slots::Holder;
use crate::telemetry;
use nightshift_core::engine::{self, Command, Event};
use nightshift_core::messages::{StepEventMessage, StepOutcome};
use nightshift_core::{JobName, RunId};

impl App {
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
        let mut successors = Vec::new();
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
                    "kind": run.step(&msg.step).map(|s| s.def.action.kind()),
                    "attempt": msg.attempt, "outcome": msg.outcome,
                    "duration_ms": (msg.finished_at - msg.started_at).num_milliseconds(), "error": msg.reason,
                }),
            );
            successors = made_ready(&msg.run_id, &commands);
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
        // The attempt is over: its job slot goes to the steps it made ready, else to the oldest waiting attempt (a
        // repeat frees nothing). Last, so a finished run's records are written as soon as its document is.
        self.hand_over_slot(
            &Holder::new(&msg.run_id, &msg.step, msg.attempt),
            &successors,
            out,
        )
        .await?;
        Ok(())
    }
}

/// The attempts of `run` that these commands dispatch now.
fn made_ready(run: &RunId, commands: &[Command]) -> Vec<Holder> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Dispatch(m) if &m.run_id == run => {
                Some(Holder::new(&m.run_id, &m.step, m.attempt))
            }
            _ => None,
        })
        .collect()
}
