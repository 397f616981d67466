//! The run engine: a pure state machine, `(run, event) -> (run, commands)`.
//!
//! It starts ready steps as soon as their dependencies succeed, retries failed attempts with exponential backoff up
//! to each step's limit, cancels the dependents of a step that failed for good, finishes the run, and journals every
//! transition. Events that do not apply (a duplicate, a stale attempt) change nothing, which is what makes
//! at-least-once delivery safe. The watchdog's reconciliation is pure too: it turns job observations into events.

use crate::messages::StepMessage;
use crate::names::{JobName, RunId, StepName};
use crate::run::{Attempt, JournalEntry, Run, RunStatus, StepStatus};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The longest wait between two attempts.
pub const MAX_BACKOFF_SECS: u64 = 300;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// The run was just created, or its environment became free: queue its first steps.
    Start,
    /// Another run holds the environment: wait for it (only before anything started).
    Wait { behind: RunId },
    /// The job of an attempt exists and runs.
    JobStarted {
        step: StepName,
        attempt: u32,
        job: JobName,
    },
    StepSucceeded {
        step: StepName,
        attempt: u32,
        outputs: BTreeMap<String, Value>,
    },
    StepFailed {
        step: StepName,
        attempt: u32,
        reason: String,
        retryable: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NotificationKind {
    RunWaiting,
    RunStarted,
    StepRetrying,
    StepFailed,
    RunSucceeded,
    RunFailed,
    /// Sent by the failure policy's rollback and by the sweep, expiry and lifecycle use cases (not by this engine).
    RollbackStarted,
    RollbackFinished,
    EnvironmentDestroyed,
    ExpiryWarning,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub kind: NotificationKind,
    pub run: String,
    pub product: String,
    pub environment: String,
    pub text: String,
    /// What the cards show beyond the text (step, URLs, expiry, log tail, links): see [`crate::notice`]. Boxed:
    /// most commands carry none of it.
    #[serde(default, skip_serializing_if = "crate::notice::Details::is_empty")]
    pub details: Box<crate::notice::Details>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Send on the `steps` queue now.
    Dispatch(StepMessage),
    /// Send on the `steps` queue at a given time (a retry after backoff).
    DispatchAt(StepMessage, DateTime<Utc>),
    /// Stop a job (timed out).
    StopJob(JobName),
    Notify(Notification),
}

/// What applying an event gave.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub run: Run,
    pub commands: Vec<Command>,
    /// False when the event did not apply (duplicate or stale): nothing to save.
    pub changed: bool,
}

fn journal(
    run: &mut Run,
    now: DateTime<Utc>,
    step: Option<&StepName>,
    attempt: Option<u32>,
    from: &str,
    to: &str,
    reason: Option<String>,
) {
    run.journal.push(JournalEntry {
        at: now,
        step: step.cloned(),
        attempt,
        from: from.into(),
        to: to.into(),
        reason,
    });
}

fn notify(run: &Run, kind: NotificationKind, text: String) -> Command {
    Command::Notify(Notification {
        kind,
        run: run.id.to_string(),
        product: run.product.to_string(),
        environment: run.environment.to_string(),
        text,
        details: Default::default(),
    })
}

/// A step's notification names the step and attempt, so a card can say which step failed.
fn notify_step(
    run: &Run,
    kind: NotificationKind,
    text: String,
    step: &StepName,
    attempt: u32,
) -> Command {
    let mut c = notify(run, kind, text);
    if let Command::Notify(n) = &mut c {
        n.details.step = Some(step.to_string());
        n.details.attempt = Some(attempt);
    }
    c
}

fn set_status(
    run: &mut Run,
    step: &StepName,
    to: StepStatus,
    now: DateTime<Utc>,
    reason: Option<String>,
) {
    let s = run.steps.get_mut(step).expect("step exists");
    let from = s.status;
    let attempt = s.attempt;
    s.status = to;
    if reason.is_some() {
        s.reason = reason.clone();
    }
    journal(
        run,
        now,
        Some(step),
        (attempt > 0).then_some(attempt),
        from.as_str(),
        to.as_str(),
        reason,
    );
}

/// The delay before attempt `next` (2, 3, ...): backoff, doubled each retry, capped.
pub fn backoff(base_secs: u64, next_attempt: u32) -> Duration {
    let exp = next_attempt.saturating_sub(2).min(20);
    Duration::seconds(base_secs.saturating_mul(1u64 << exp).min(MAX_BACKOFF_SECS) as i64)
}

pub fn apply(run: &Run, event: &Event, now: DateTime<Utc>) -> Outcome {
    let mut run = run.clone();
    let (commands, changed) = apply_in_place(&mut run, event, now);
    Outcome {
        run,
        commands,
        changed,
    }
}

/// [`apply`] on the run itself, without a copy: what folding a run's event journal uses. Returns the commands and
/// whether the event applied; an event that does not apply leaves the run untouched.
pub fn apply_in_place(run: &mut Run, event: &Event, now: DateTime<Utc>) -> (Vec<Command>, bool) {
    let mut commands = Vec::new();
    let changed = match event {
        Event::Start => {
            let first = run.steps.values().all(|s| s.attempt == 0) && !run.status.is_finished();
            if first {
                if run.status == RunStatus::Waiting {
                    run.status = RunStatus::Running;
                    journal(
                        run,
                        now,
                        None,
                        None,
                        "waiting",
                        "running",
                        Some("the environment is free".into()),
                    );
                }
                commands.push(notify(
                    run,
                    NotificationKind::RunStarted,
                    format!("{} started: {} steps", run.id, run.steps.len()),
                ));
            }
            first
        }
        Event::Wait { behind } => {
            let untouched =
                run.steps.values().all(|s| s.attempt == 0) && run.status == RunStatus::Running;
            if untouched {
                run.status = RunStatus::Waiting;
                let why = format!("run {behind} is building this environment");
                journal(
                    run,
                    now,
                    None,
                    None,
                    "running",
                    "waiting",
                    Some(why.clone()),
                );
                commands.push(notify(
                    run,
                    NotificationKind::RunWaiting,
                    format!("{} waits: {why}", run.id),
                ));
            }
            untouched
        }
        Event::JobStarted { step, attempt, job } => match run.steps.get_mut(step) {
            Some(s)
                if matches!(s.status, StepStatus::Queued | StepStatus::Retrying)
                    && s.attempt == *attempt =>
            {
                s.started_at = Some(now);
                s.not_before = None;
                if let Some(a) = s.attempts.iter_mut().find(|a| a.attempt == *attempt) {
                    a.started_at = Some(now);
                } else {
                    s.attempts.push(Attempt {
                        attempt: *attempt,
                        job: job.clone(),
                        started_at: Some(now),
                        finished_at: None,
                        outcome: None,
                        reason: None,
                    });
                }
                set_status(run, step, StepStatus::Running, now, None);
                true
            }
            _ => false,
        },
        Event::StepSucceeded {
            step,
            attempt,
            outputs,
        } => match run.steps.get_mut(step) {
            Some(s) if is_current(s.status, s.attempt, *attempt) => {
                s.outputs = outputs.clone();
                s.finished_at = Some(now);
                s.started_at.get_or_insert(now);
                record_attempt(s, *attempt, now, "succeeded", None, &run.id);
                set_status(run, step, StepStatus::Succeeded, now, None);
                true
            }
            _ => false,
        },
        Event::StepFailed {
            step,
            attempt,
            reason,
            retryable,
        } => match run.steps.get(step) {
            Some(s) if is_current(s.status, s.attempt, *attempt) => {
                let can_retry = *retryable && *attempt < s.max_attempts;
                let s = run.steps.get_mut(step).expect("step exists");
                record_attempt(
                    s,
                    *attempt,
                    now,
                    "failed",
                    Some(reason.clone()),
                    &run.id.clone(),
                );
                if can_retry {
                    let next = attempt + 1;
                    let at = now + backoff(s.def.backoff_secs, next);
                    s.attempt = next;
                    s.not_before = Some(at);
                    s.started_at = None;
                    let msg = StepMessage::new(&run.id, step, next);
                    let why = format!(
                        "attempt {attempt} of {} failed: {reason}; retrying at {}",
                        s.max_attempts,
                        at.to_rfc3339()
                    );
                    set_status(run, step, StepStatus::Retrying, now, Some(why.clone()));
                    commands.push(Command::DispatchAt(msg, at));
                    commands.push(notify_step(
                        run,
                        NotificationKind::StepRetrying,
                        format!("{}: step {step} {why}", run.id),
                        step,
                        *attempt,
                    ));
                } else {
                    s.finished_at = Some(now);
                    let why = if *retryable {
                        format!("failed after {attempt} attempts: {reason}")
                    } else {
                        format!("failed (not retryable): {reason}")
                    };
                    set_status(run, step, StepStatus::Failed, now, Some(why.clone()));
                    commands.push(notify_step(
                        run,
                        NotificationKind::StepFailed,
                        format!("{}: step {step} {why}", run.id),
                        step,
                        *attempt,
                    ));
                }
                true
            }
            _ => false,
        },
    };
    if changed && run.status == RunStatus::Running {
        advance(run, now, &mut commands);
    }
    (commands, changed)
}

/// Whether a result is about the step's current attempt. `Retrying` counts: the scheduled attempt may end before its
/// start was ever recorded (its job could not start at all, e.g. a secret removed since the last attempt), and a
/// result dropped there would leave the step retrying forever.
fn is_current(status: StepStatus, current: u32, attempt: u32) -> bool {
    matches!(
        status,
        StepStatus::Queued | StepStatus::Running | StepStatus::Retrying
    ) && current == attempt
}

fn record_attempt(
    s: &mut crate::run::StepRun,
    attempt: u32,
    now: DateTime<Utc>,
    outcome: &str,
    reason: Option<String>,
    run: &crate::names::RunId,
) {
    if !s.attempts.iter().any(|a| a.attempt == attempt) {
        s.attempts.push(Attempt {
            attempt,
            job: JobName::for_attempt(run, &s.def.name, attempt),
            started_at: None,
            finished_at: None,
            outcome: None,
            reason: None,
        });
    }
    let a = s
        .attempts
        .iter_mut()
        .find(|a| a.attempt == attempt)
        .expect("just ensured");
    a.finished_at = Some(now);
    a.outcome = Some(outcome.to_string());
    a.reason = reason;
}

/// Why a ready step stays pending: the run's `max_parallel` steps are queued or running already.
pub const SLOT_WAIT_PREFIX: &str = "waiting for a job slot";

/// Steps that hold one of the run's job slots: queued, running, or retrying (its next attempt may start any time).
fn holding_a_slot(run: &Run) -> usize {
    run.steps
        .values()
        .filter(|s| {
            matches!(
                s.status,
                StepStatus::Queued | StepStatus::Running | StepStatus::Retrying
            )
        })
        .count()
}

/// Queues ready steps (at most the run's `max_parallel` at once, in catalog order; the others stay pending with
/// the reason), cancels the dependents of failed ones, and finishes the run when nothing is left to do.
fn advance(run: &mut Run, now: DateTime<Utc>, commands: &mut Vec<Command>) {
    let mut busy = holding_a_slot(run);
    loop {
        let mut progressed = false;
        let names: Vec<StepName> = run.steps.keys().cloned().collect();
        for name in names {
            if run.steps[&name].status != StepStatus::Pending {
                continue;
            }
            let needs = run.steps[&name].def.needs.clone();
            if let Some(bad) = needs.iter().find(|n| {
                matches!(
                    run.steps[*n].status,
                    StepStatus::Failed | StepStatus::Cancelled
                )
            }) {
                let why = format!("dependency {bad} {}", run.steps[bad].status.as_str());
                set_status(run, &name, StepStatus::Cancelled, now, Some(why));
                progressed = true;
            } else if needs
                .iter()
                .all(|n| run.steps[n].status.satisfies_dependents())
            {
                if let Some(why) = run.steps[&name].skip.clone() {
                    // Its dependencies are done: only now does it count as done for its dependents.
                    set_status(run, &name, StepStatus::Skipped, now, Some(why));
                    progressed = true;
                    continue;
                }
                let s = run.steps.get_mut(&name).expect("exists");
                let waits_own_reason = s
                    .reason
                    .as_deref()
                    .is_none_or(|r| r.starts_with(SLOT_WAIT_PREFIX));
                if let Some(cap) = run.max_parallel.filter(|cap| busy >= *cap as usize) {
                    // Not a transition (it stays pending): only its reason says why, without touching another one.
                    if waits_own_reason {
                        s.reason = Some(format!("{SLOT_WAIT_PREFIX}: max_parallel {cap}"));
                    }
                    continue;
                }
                if waits_own_reason {
                    s.reason = None;
                }
                s.attempt = 1;
                s.queued_at = Some(now);
                busy += 1;
                set_status(run, &name, StepStatus::Queued, now, None);
                commands.push(Command::Dispatch(StepMessage::new(&run.id, &name, 1)));
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    if run.status == RunStatus::Running && run.steps.values().all(|s| s.status.is_terminal()) {
        let failed: Vec<String> = run
            .steps
            .iter()
            .filter(|(_, s)| s.status == StepStatus::Failed)
            .map(|(k, _)| k.to_string())
            .collect();
        let (to, reason, kind) = if failed.is_empty() {
            (
                RunStatus::Succeeded,
                "every step succeeded".to_string(),
                NotificationKind::RunSucceeded,
            )
        } else {
            (
                RunStatus::Failed,
                format!("failed steps: {}", failed.join(", ")),
                NotificationKind::RunFailed,
            )
        };
        run.status = to;
        run.finished_at = Some(now);
        run.reason = Some(reason.clone());
        let to_s = if to == RunStatus::Succeeded {
            "succeeded"
        } else {
            "failed"
        };
        journal(run, now, None, None, "running", to_s, Some(reason.clone()));
        let secs = run.duration_secs(now);
        commands.push(notify(
            run,
            kind,
            format!("{} {to_s} in {secs:.1}s: {reason}", run.id),
        ));
    }
}

/// Dispatch messages for steps that are queued but whose job was never seen: re-sent when a trigger or an event
/// arrives twice, in case the first delivery's output messages were lost. The step handler's deterministic job
/// names make a repeat harmless.
pub fn redispatch_queued(run: &Run) -> Vec<Command> {
    run.steps
        .iter()
        .filter(|(_, s)| s.status == StepStatus::Queued)
        .map(|(k, s)| Command::Dispatch(StepMessage::new(&run.id, k, s.attempt)))
        .collect()
}

/// What a dispatch message should do, given the run as stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Dispatch {
    /// Start (or find) the job of this attempt.
    Start { job: JobName },
    /// The step is not waiting for this attempt (a duplicate or stale message): acknowledge and do nothing.
    Ignore { reason: String },
}

pub fn dispatch(run: &Run, step: &StepName, attempt: u32) -> Dispatch {
    let Some(s) = run.steps.get(step) else {
        return Dispatch::Ignore {
            reason: format!("run {} has no step {step}", run.id),
        };
    };
    if run.status != RunStatus::Running {
        return Dispatch::Ignore {
            reason: format!("run {} is already {:?}", run.id, run.status),
        };
    }
    match s.status {
        StepStatus::Queued | StepStatus::Retrying | StepStatus::Running if s.attempt == attempt => {
            Dispatch::Start {
                job: JobName::for_attempt(&run.id, step, attempt),
            }
        }
        other => Dispatch::Ignore {
            reason: format!(
                "step {step} is {} at attempt {}, not waiting for attempt {attempt}",
                other.as_str(),
                s.attempt
            ),
        },
    }
}

/// What the watchdog saw of one attempt's job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobObservation {
    NotFound,
    Running,
    Exited {
        code: i32,
        outputs: Option<BTreeMap<String, Value>>,
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct WatchdogPolicy {
    /// How long a queued step may wait for its job before its dispatch is sent again.
    pub redispatch_after: Duration,
    /// How long after a job ended its result may still arrive by message.
    pub result_grace: Duration,
}

impl Default for WatchdogPolicy {
    fn default() -> Self {
        Self {
            redispatch_after: Duration::seconds(60),
            result_grace: Duration::seconds(30),
        }
    }
}

fn waiting_since(s: &crate::run::StepRun) -> Option<DateTime<Utc>> {
    match s.status {
        StepStatus::Queued => s.queued_at,
        _ => s.not_before,
    }
}

/// The watchdog's decisions for one run: events to apply and commands to carry out.
pub fn reconcile(
    run: &Run,
    now: DateTime<Utc>,
    observed: &BTreeMap<StepName, (JobObservation, Option<DateTime<Utc>>)>,
    policy: WatchdogPolicy,
) -> (Vec<Event>, Vec<Command>) {
    let mut events = Vec::new();
    let mut commands = Vec::new();
    if run.status != RunStatus::Running {
        return (events, commands);
    }
    for (name, s) in &run.steps {
        let job = JobName::for_attempt(&run.id, name, s.attempt.max(1));
        let (obs, ended_at) = observed
            .get(name)
            .cloned()
            .unwrap_or((JobObservation::NotFound, None));
        match (s.status, obs) {
            // Waiting for a job that never appeared (queued), or for a retry whose scheduled message never
            // came (retrying): send the dispatch again.
            (StepStatus::Queued | StepStatus::Retrying, JobObservation::NotFound)
                if waiting_since(s).is_some_and(|t| now - t >= policy.redispatch_after) =>
            {
                // Numbered by the periods waited: each later watchdog pass sends a new MessageId (Service Bus
                // would drop a repeat inside its duplicate-detection window), two instances of one pass the same.
                let waited = waiting_since(s).map_or(0, |t| (now - t).num_seconds());
                let period = policy.redispatch_after.num_seconds().max(1);
                let n = u32::try_from(waited / period).unwrap_or(u32::MAX);
                commands.push(Command::Dispatch(StepMessage::redispatched(
                    &run.id, name, s.attempt, n,
                )));
            }
            (StepStatus::Queued | StepStatus::Retrying, JobObservation::Running) => {
                events.push(Event::JobStarted {
                    step: name.clone(),
                    attempt: s.attempt,
                    job,
                });
            }
            (StepStatus::Running, JobObservation::Running) => {
                let limit = crate::names::chrono_secs(s.def.timeout_secs);
                if s.started_at.is_some_and(|t| now - t > limit) {
                    commands.push(Command::StopJob(job));
                    events.push(Event::StepFailed {
                        step: name.clone(),
                        attempt: s.attempt,
                        reason: format!("timed out after {}s", s.def.timeout_secs),
                        retryable: true,
                    });
                }
            }
            (StepStatus::Running, JobObservation::NotFound) => {
                events.push(Event::StepFailed {
                    step: name.clone(),
                    attempt: s.attempt,
                    reason: "its job disappeared before reporting a result".into(),
                    retryable: true,
                });
            }
            (
                StepStatus::Queued | StepStatus::Running | StepStatus::Retrying,
                JobObservation::Exited {
                    code,
                    outputs,
                    reason,
                },
            ) => {
                let late = ended_at
                    .map(|t| now - t >= policy.result_grace)
                    .unwrap_or(true);
                if !late {
                    continue;
                }
                events.push(match (code, outputs) {
                    (0, Some(outputs)) => Event::StepSucceeded {
                        step: name.clone(),
                        attempt: s.attempt,
                        outputs,
                    },
                    (0, None) => Event::StepFailed {
                        step: name.clone(),
                        attempt: s.attempt,
                        reason: "its job exited 0 but left no result".into(),
                        retryable: true,
                    },
                    (code, _) => Event::StepFailed {
                        step: name.clone(),
                        attempt: s.attempt,
                        reason: reason.unwrap_or_else(|| {
                            format!(
                                "its job exited with code {code} and its result message never came"
                            )
                        }),
                        retryable: true,
                    },
                });
            }
            _ => {}
        }
    }
    (events, commands)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{tests::DEMO, Catalog};
    use crate::names::EnvironmentName;
    use crate::planner::{plan, PlanRequest};
    use crate::run::Trigger;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 1, 0, 0).unwrap() + Duration::seconds(s)
    }

    fn new_run() -> Run {
        let c = Catalog::parse_files(&[("c.yaml".into(), DEMO.into())]).unwrap();
        let env = EnvironmentName::parse("nightly").unwrap();
        plan(PlanRequest {
            product: &c.products[0],
            environment: &env,
            trigger: Trigger::Nightly {
                night: t(0).date_naive(),
                rebuild: 0,
            },
            ttl: None,
            instance: "nightshift",
            now: t(0),
        })
        .unwrap()
    }

    fn s(n: &str) -> StepName {
        StepName::parse(n).unwrap()
    }

    fn dispatched(cmds: &[Command]) -> Vec<String> {
        cmds.iter()
            .filter_map(|c| match c {
                Command::Dispatch(m) => Some(format!("{}#{}", m.step, m.attempt)),
                _ => None,
            })
            .collect()
    }

    fn succeed(run: &Run, step: &str, at: i64) -> Outcome {
        let a = run.steps[&s(step)].attempt;
        let o = apply(
            run,
            &Event::JobStarted {
                step: s(step),
                attempt: a,
                job: JobName::for_attempt(&run.id, &s(step), a),
            },
            t(at),
        );
        apply(
            &o.run,
            &Event::StepSucceeded {
                step: s(step),
                attempt: a,
                outputs: BTreeMap::new(),
            },
            t(at + 1),
        )
    }

    #[test]
    fn start_queues_the_roots_and_success_queues_dependents_in_parallel() {
        let o = apply(&new_run(), &Event::Start, t(0));
        assert_eq!(dispatched(&o.commands), vec!["foundation#1"]);
        let o = succeed(&o.run, "foundation", 1);
        assert_eq!(dispatched(&o.commands), vec!["db#1", "app#1"]);
    }

    #[test]
    fn a_run_whose_steps_all_succeed_is_succeeded_and_journaled() {
        let mut run = apply(&new_run(), &Event::Start, t(0)).run;
        for (i, step) in ["foundation", "db", "app", "seed", "smoke"]
            .iter()
            .enumerate()
        {
            run = succeed(&run, step, i as i64 * 10).run;
        }
        assert_eq!(run.status, RunStatus::Succeeded);
        assert!(run
            .journal
            .iter()
            .any(|j| j.to == "succeeded" && j.step.is_none()));
        assert_eq!(
            run.journal
                .iter()
                .filter(|j| j.to == "running" && j.step.is_some())
                .count(),
            5
        );
    }

    #[test]
    fn a_failed_attempt_is_retried_with_exponential_backoff_then_succeeds() {
        let mut run = apply(&new_run(), &Event::Start, t(0)).run;
        let f = s("foundation");
        let mut delays = Vec::new();
        for attempt in 1..=2 {
            run = apply(
                &run,
                &Event::JobStarted {
                    step: f.clone(),
                    attempt,
                    job: JobName::for_attempt(&run.id, &f, attempt),
                },
                t(0),
            )
            .run;
            let o = apply(
                &run,
                &Event::StepFailed {
                    step: f.clone(),
                    attempt,
                    reason: "boom".into(),
                    retryable: true,
                },
                t(10),
            );
            match &o.commands[0] {
                Command::DispatchAt(m, at) => {
                    assert_eq!(m.attempt, attempt + 1);
                    delays.push((*at - t(10)).num_seconds());
                }
                other => panic!("{other:?}"),
            }
            run = o.run;
            assert_eq!(run.steps[&f].status, StepStatus::Retrying);
        }
        assert_eq!(delays, vec![1, 2], "backoff doubles from the catalog's 1s");
        let o = succeed(&run, "foundation", 20);
        assert_eq!(o.run.steps[&f].status, StepStatus::Succeeded);
        assert_eq!(o.run.steps[&f].attempts.len(), 3);
    }

    #[test]
    fn a_step_that_fails_for_good_cancels_its_dependents_and_fails_the_run_with_reasons() {
        let mut run = apply(&new_run(), &Event::Start, t(0)).run;
        run = succeed(&run, "foundation", 1).run;
        run = succeed(&run, "app", 2).run;
        let o = apply(
            &run,
            &Event::StepFailed {
                step: s("db"),
                attempt: 1,
                reason: "quota exceeded".into(),
                retryable: false,
            },
            t(5),
        );
        let run = o.run;
        assert_eq!(run.steps[&s("db")].status, StepStatus::Failed);
        assert_eq!(run.steps[&s("seed")].status, StepStatus::Cancelled);
        assert_eq!(run.steps[&s("smoke")].status, StepStatus::Cancelled);
        assert!(run.steps[&s("seed")]
            .reason
            .as_deref()
            .unwrap()
            .contains("dependency db failed"));
        assert_eq!(run.status, RunStatus::Failed);
        assert!(run.reason.as_deref().unwrap().contains("db"));
        assert!(o
            .commands
            .iter()
            .any(|c| matches!(c, Command::Notify(n) if n.kind == NotificationKind::RunFailed)));
    }

    #[test]
    fn retries_stop_at_the_steps_limit() {
        let mut run = apply(&new_run(), &Event::Start, t(0)).run;
        let f = s("foundation");
        for attempt in 1..=3 {
            run = apply(
                &run,
                &Event::StepFailed {
                    step: f.clone(),
                    attempt,
                    reason: "x".into(),
                    retryable: true,
                },
                t(attempt as i64),
            )
            .run;
            if attempt < 3 {
                run = apply(
                    &run,
                    &Event::JobStarted {
                        step: f.clone(),
                        attempt: attempt + 1,
                        job: JobName::for_attempt(&run.id, &f, attempt + 1),
                    },
                    t(0),
                )
                .run;
            }
        }
        assert_eq!(run.steps[&f].status, StepStatus::Failed);
        assert!(run.steps[&f]
            .reason
            .as_deref()
            .unwrap()
            .contains("after 3 attempts"));
    }

    #[test]
    fn a_duplicate_or_stale_event_changes_nothing() {
        let run = apply(&new_run(), &Event::Start, t(0)).run;
        let once = succeed(&run, "foundation", 1).run;
        let again = apply(
            &once,
            &Event::StepSucceeded {
                step: s("foundation"),
                attempt: 1,
                outputs: BTreeMap::new(),
            },
            t(9),
        );
        assert!(!again.changed);
        assert_eq!(again.run, once);
        let stale = apply(
            &once,
            &Event::StepFailed {
                step: s("foundation"),
                attempt: 1,
                reason: "late".into(),
                retryable: true,
            },
            t(9),
        );
        assert!(!stale.changed);
    }

    #[test]
    fn a_waiting_run_queues_nothing_until_it_is_started() {
        let run = new_run();
        let behind = crate::names::RunId::parse("shop.nightly.n20261120").unwrap();
        let o = apply(&run, &Event::Wait { behind }, t(0));
        assert!(o.changed);
        assert_eq!(o.run.status, RunStatus::Waiting);
        assert!(dispatched(&o.commands).is_empty());
        assert!(matches!(
            dispatch(&o.run, &s("foundation"), 1),
            Dispatch::Ignore { .. }
        ));
        let started = apply(&o.run, &Event::Start, t(5));
        assert_eq!(started.run.status, RunStatus::Running);
        assert_eq!(dispatched(&started.commands), vec!["foundation#1"]);
        assert!(started
            .run
            .journal
            .iter()
            .any(|j| j.from == "waiting" && j.to == "running"));
        // A run that has started cannot be made to wait.
        let late = apply(
            &started.run,
            &Event::Wait {
                behind: crate::names::RunId::parse("shop.nightly.n20261119").unwrap(),
            },
            t(6),
        );
        assert!(!late.changed);
    }

    #[test]
    fn dispatch_starts_only_the_awaited_attempt() {
        let run = apply(&new_run(), &Event::Start, t(0)).run;
        assert!(matches!(
            dispatch(&run, &s("foundation"), 1),
            Dispatch::Start { .. }
        ));
        assert!(matches!(
            dispatch(&run, &s("foundation"), 2),
            Dispatch::Ignore { .. }
        ));
        assert!(matches!(
            dispatch(&run, &s("db"), 1),
            Dispatch::Ignore { .. }
        ));
        let done = succeed(&run, "foundation", 1).run;
        assert!(matches!(
            dispatch(&done, &s("foundation"), 1),
            Dispatch::Ignore { .. }
        ));
    }

    #[test]
    fn each_watchdog_redispatch_gets_a_message_id_service_bus_will_not_drop_as_a_duplicate() {
        let run = apply(&new_run(), &Event::Start, t(0)).run;
        let ids = |now| {
            reconcile(&run, now, &BTreeMap::new(), WatchdogPolicy::default())
                .1
                .into_iter()
                .filter_map(|c| match c {
                    Command::Dispatch(m) => Some(m.message_id()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let first = StepMessage::new(&run.id, &s("foundation"), 1).message_id();
        let (pass1, pass1_again, pass2) = (ids(t(120)), ids(t(121)), ids(t(180)));

        assert_eq!(pass1.len(), 1);
        assert_ne!(
            pass1[0], first,
            "the lost dispatch's id is still inside the window"
        );
        assert_eq!(
            pass1, pass1_again,
            "two instances of one pass send one message"
        );
        assert_ne!(
            pass1, pass2,
            "a later pass must not be dropped as a repeat of the earlier one"
        );
    }

    #[test]
    fn the_watchdog_recovers_lost_results_lost_dispatches_and_timeouts() {
        let run = apply(&new_run(), &Event::Start, t(0)).run;
        let f = s("foundation");
        // A queued step with no job long after: dispatch again.
        let (ev, cmds) = reconcile(&run, t(120), &BTreeMap::new(), WatchdogPolicy::default());
        assert!(ev.is_empty());
        assert_eq!(dispatched(&cmds), vec!["foundation#1"]);
        // A finished job whose message never came: its stored result is applied.
        let obs = BTreeMap::from([(
            f.clone(),
            (
                JobObservation::Exited {
                    code: 0,
                    outputs: Some(BTreeMap::new()),
                    reason: None,
                },
                Some(t(1)),
            ),
        )]);
        let (ev, _) = reconcile(&run, t(120), &obs, WatchdogPolicy::default());
        assert!(matches!(&ev[0], Event::StepSucceeded { attempt: 1, .. }));
        // Within the grace period the message may still come: nothing yet.
        let (ev, _) = reconcile(&run, t(5), &obs, WatchdogPolicy::default());
        assert!(ev.is_empty());
        // A running job past its timeout is stopped and failed.
        let running = apply(
            &run,
            &Event::JobStarted {
                step: f.clone(),
                attempt: 1,
                job: JobName::for_attempt(&run.id, &f, 1),
            },
            t(0),
        )
        .run;
        let obs = BTreeMap::from([(f.clone(), (JobObservation::Running, None))]);
        let (ev, cmds) = reconcile(&running, t(31 * 60), &obs, WatchdogPolicy::default());
        assert!(matches!(&ev[0], Event::StepFailed { reason, .. } if reason.contains("timed out")));
        assert!(matches!(&cmds[0], Command::StopJob(_)));
    }
}
