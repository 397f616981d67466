//! The `steps` queue ("start this attempt of this step") and the `step-events` queue ("this attempt ended", sent
//! by the runner), with the bounds of a step event's fields.

use super::*;
use crate::names::{RunId, StepName};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The bounds of a step event's fields: an attempt number (retries are at most 10, so 11 attempts; the rest is
/// margin), a failure reason, the outputs, the log key.
pub const MAX_ATTEMPT: u32 = 100;
pub const MAX_REASON_CHARS: usize = 64 * 1024;
pub const MAX_OUTPUTS: usize = 1000;
pub const MAX_OUTPUT_NAME_CHARS: usize = 128;
pub const MAX_LOG_KEY_CHARS: usize = 512;

/// "Start this attempt of this step": the `steps` queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMessage {
    pub schema: String,
    pub run_id: RunId,
    pub step: StepName,
    pub attempt: u32,
    /// 0 for the first dispatch of an attempt; n for the watchdog's n-th re-dispatch of it, which needs a MessageId
    /// of its own: Service Bus duplicate detection would drop a repeat of the first one inside its window.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redispatch: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl StepMessage {
    pub fn new(run: &RunId, step: &StepName, attempt: u32) -> Self {
        Self {
            schema: STEP_SCHEMA.into(),
            run_id: run.clone(),
            step: step.clone(),
            attempt,
            redispatch: 0,
        }
    }
    /// The watchdog's `n`-th re-dispatch (n >= 1) of an attempt whose dispatch was lost.
    pub fn redispatched(run: &RunId, step: &StepName, attempt: u32, n: u32) -> Self {
        Self {
            redispatch: n.max(1),
            ..Self::new(run, step, attempt)
        }
    }
    pub fn decode(body: &str) -> Result<Self, Rejection> {
        let m: Self = decode(body, STEP_SCHEMA)?;
        if m.attempt == 0 {
            return Err(Rejection::new("attempt starts at 1"));
        }
        Ok(m)
    }
    /// Deterministic, so Service Bus duplicate detection drops a repeat; a re-dispatch has its own.
    pub fn message_id(&self) -> String {
        match self.redispatch {
            0 => format!("{}/{}/{}/dispatch", self.run_id, self.step, self.attempt),
            n => format!(
                "{}/{}/{}/redispatch/{n}",
                self.run_id, self.step, self.attempt
            ),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    Succeeded,
    Failed,
    /// Stopped from outside (SIGTERM); worth another attempt.
    Interrupted,
}

/// "This attempt ended": the `step-events` queue, sent by the runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepEventMessage {
    pub schema: String,
    pub run_id: RunId,
    pub step: StepName,
    pub attempt: u32,
    pub outcome: StepOutcome,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub reason: Option<String>,
    /// A failure that another attempt cannot fix (bad configuration).
    #[serde(default)]
    pub permanent: bool,
    #[serde(default)]
    pub outputs: BTreeMap<String, Value>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Where the attempt's log is kept (a store key).
    #[serde(default)]
    pub log: Option<String>,
}

impl StepEventMessage {
    pub fn decode(body: &str) -> Result<Self, Rejection> {
        let m: Self = decode(body, STEP_EVENT_SCHEMA)?;
        m.check_bounds()?;
        Ok(m)
    }

    /// Every field within its bound, or the reason it is not.
    pub fn check_bounds(&self) -> Result<(), Rejection> {
        if self.attempt == 0 || self.attempt > MAX_ATTEMPT {
            return Err(Rejection::new(format!(
                "attempt is {}: attempts run from 1 to {MAX_ATTEMPT}",
                self.attempt
            )));
        }
        if let Some(reason) = &self.reason {
            let n = reason.chars().count();
            if n > MAX_REASON_CHARS {
                return Err(Rejection::new(format!(
                    "reason is {n} characters long: at most {MAX_REASON_CHARS}"
                )));
            }
        }
        if self.outputs.len() > MAX_OUTPUTS {
            return Err(Rejection::new(format!(
                "{} outputs: at most {MAX_OUTPUTS}",
                self.outputs.len()
            )));
        }
        if let Some(k) = self
            .outputs
            .keys()
            .find(|k| k.is_empty() || k.chars().count() > MAX_OUTPUT_NAME_CHARS)
        {
            return Err(Rejection::new(format!(
                "output name {k:?}: use 1 to {MAX_OUTPUT_NAME_CHARS} characters"
            )));
        }
        if let Some(log) = &self.log {
            if log.len() > MAX_LOG_KEY_CHARS
                || !log.starts_with("logs/")
                || log
                    .split('/')
                    .any(|seg| seg.is_empty() || seg == "." || seg == "..")
            {
                return Err(Rejection::new(format!(
                    "log {log:?} is not a store key under logs/ (at most {MAX_LOG_KEY_CHARS} characters)"
                )));
            }
        }
        if self.finished_at < self.started_at {
            return Err(Rejection::new(format!(
                "finished_at {} is before started_at {}",
                self.finished_at.to_rfc3339(),
                self.started_at.to_rfc3339()
            )));
        }
        Ok(())
    }
    pub fn message_id(&self) -> String {
        format!("{}/{}/{}/result", self.run_id, self.step, self.attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_messages_round_trip_and_have_deterministic_ids() {
        let m = StepMessage::new(
            &RunId::parse("shop.nightly.n20261121").unwrap(),
            &StepName::parse("db").unwrap(),
            2,
        );
        let back = StepMessage::decode(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(m.message_id(), "shop.nightly.n20261121/db/2/dispatch");
        assert!(
            !serde_json::to_string(&m).unwrap().contains("redispatch"),
            "a first dispatch keeps the body it always had"
        );
    }

    #[test]
    fn a_redispatch_has_its_own_message_id_per_attempt_and_count_and_round_trips() {
        let run = RunId::parse("shop.nightly.n20261121").unwrap();
        let step = StepName::parse("db").unwrap();
        let first = StepMessage::new(&run, &step, 2);
        let again = StepMessage::redispatched(&run, &step, 2, 1);
        let third = StepMessage::redispatched(&run, &step, 2, 2);

        assert_eq!(
            again.message_id(),
            "shop.nightly.n20261121/db/2/redispatch/1"
        );
        let ids: std::collections::BTreeSet<String> = [&first, &again, &third]
            .iter()
            .map(|m| m.message_id())
            .collect();
        assert_eq!(ids.len(), 3, "{ids:?}");
        let back = StepMessage::decode(&serde_json::to_string(&third).unwrap()).unwrap();
        assert_eq!(back, third);
        let old_body = r#"{"schema":"nightshift.step/v1","run_id":"shop.nightly.n20261121","step":"db","attempt":2}"#;
        let m = StepMessage::decode(old_body).unwrap();
        assert_eq!(m, first, "a body without the field is a first dispatch");
    }
}
