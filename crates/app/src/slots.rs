//! The global cap on jobs running at once (`NIGHTSHIFT_MAX_JOBS`): one token per running job, taken where jobs start
//! (`step-dispatch`) and given back when the step's result arrives.
//!
//! Store keys (all under `job-slots/`, flat: `_` never occurs in a run id or step name, and a flat directory leaves
//! no empty directories behind for a listing to walk):
//! - `tokens/<n>` for n in 0..max: the attempt holding slot n (`{run, step, attempt}`), created with a conditional
//!   create, so two dispatchers never hold one slot;
//! - `held/<run>_<step>_<attempt>`: which slot that attempt holds, written *before* the token, so a redelivered
//!   dispatch finds its own slot again whatever line the first delivery died at;
//! - `waiting/<run created>_<since>_<run>_<step>_<attempt>`: an attempt that found every slot taken, served oldest
//!   run first, then oldest attempt (`since` is the time it was queued, so a repeat writes the same key). Keys of
//!   the earlier form, without the run's creation, are still read (served first).
//!
//! A token is valid while its attempt is the step's current one, queued, running or retrying, and the attempt's
//! `held` key names it; the watchdog deletes any other (a holder that died, a duplicate left by a crash). A result
//! that made steps ready passes its token in place to the first of them (`Repo::pass_slot`: a conditional rewrite,
//! never free in between, so no listing and no wake-up). Otherwise releasing deletes the token and then gives free
//! slots first to the steps the same result made ready in the same run (a run
//! under way goes on before another starts: with many environments released at once, each finishes sooner and the
//! time between two of its steps stays short), then to the waiters of the oldest runs, sending their dispatch
//! again; a dispatcher
//! that finds every slot taken records itself as waiting and then tries once more, so a slot freed between its two
//! looks is never missed. Nothing polls: a waiting attempt is woken by a message, and the watchdog re-dispatches
//! only attempts that are not waiting for a slot.

use crate::repo::Repo;
use crate::service::{App, AppError, Outputs};
use chrono::{DateTime, Utc};
use nightshift_core::messages::StepMessage;
use nightshift_core::ports::{PortError, Precondition};
use nightshift_core::run::{Run, RunStatus, StepStatus};
use nightshift_core::{RunId, StepName};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

const TOKENS: &str = "job-slots/tokens/";
const HELD: &str = "job-slots/held/";
const WAITING: &str = "job-slots/waiting/";

/// Why a dispatched step waits (shown by `status`).
pub fn wait_reason(max_jobs: u32) -> String {
    format!(
        "{}: NIGHTSHIFT_MAX_JOBS {max_jobs}",
        nightshift_core::engine::SLOT_WAIT_PREFIX
    )
}

/// One step attempt, as a slot holder or a waiter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Holder {
    pub run: RunId,
    pub step: StepName,
    pub attempt: u32,
}

impl Holder {
    pub fn new(run: &RunId, step: &StepName, attempt: u32) -> Self {
        Self {
            run: run.clone(),
            step: step.clone(),
            attempt,
        }
    }
    fn held_key(&self) -> String {
        format!("{HELD}{}_{}_{}", self.run, self.step, self.attempt)
    }
    fn waiting_key(&self, run_created: DateTime<Utc>, since: DateTime<Utc>) -> String {
        format!(
            "{WAITING}{}_{}_{}_{}_{}",
            run_created.format("%Y%m%dT%H%M%S%.6fZ"),
            since.format("%Y%m%dT%H%M%S%.6fZ"),
            self.run,
            self.step,
            self.attempt
        )
    }
    /// Where a holder starts looking for a free slot: spread, so concurrent dispatchers rarely race for one.
    fn first_slot(&self, max: u32) -> u32 {
        let d = Sha256::digest(format!("{}/{}/{}", self.run, self.step, self.attempt));
        u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % max.max(1)
    }
}

fn token_key(slot: u32) -> String {
    format!("{TOKENS}{slot:05}")
}

fn parse_waiting(key: &str) -> Option<Holder> {
    let parts: Vec<&str> = key.strip_prefix(WAITING)?.split('_').collect();
    // `<created>_<since>_<run>_<step>_<attempt>`, or the earlier `<since>_<run>_<step>_<attempt>`.
    let (&[_, run, step, attempt] | &[_, _, run, step, attempt]) = parts.as_slice() else {
        return None;
    };
    Some(Holder {
        run: RunId::parse(run).ok()?,
        step: StepName::parse(step).ok()?,
        attempt: attempt.parse().ok()?,
    })
}

/// When an attempt was sent: the order waiters are served in.
fn queued_since(run: &Run, step: &StepName) -> DateTime<Utc> {
    run.steps
        .get(step)
        .and_then(|s| match s.status {
            StepStatus::Retrying => s.not_before.or(s.queued_at),
            _ => s.queued_at,
        })
        .unwrap_or(run.created_at)
}

/// Whether a slot's holder still needs it: its run runs and the attempt is the step's current one, not finished.
fn still_needs(run: Option<&Run>, h: &Holder) -> bool {
    run.filter(|r| r.status == RunStatus::Running)
        .and_then(|r| r.steps.get(&h.step))
        .is_some_and(|s| {
            s.attempt == h.attempt
                && matches!(
                    s.status,
                    StepStatus::Queued | StepStatus::Running | StepStatus::Retrying
                )
        })
}

impl Repo {
    async fn slot_token(&self, slot: u32) -> Result<Option<Holder>, PortError> {
        Ok(self
            .get_json::<Holder>(&token_key(slot))
            .await?
            .map(|(h, _)| h))
    }

    /// The slot `h` holds, if its `held` key names a token that is its own.
    pub async fn slot_of(&self, h: &Holder) -> Result<Option<u32>, PortError> {
        let Some((slot, _)) = self.get_json::<u32>(&h.held_key()).await? else {
            return Ok(None);
        };
        Ok((self.slot_token(slot).await?.as_ref() == Some(h)).then_some(slot))
    }

    /// The slots taken now.
    pub async fn taken_slots(&self) -> Result<Vec<u32>, PortError> {
        Ok(self
            .store()
            .list(TOKENS)
            .await?
            .iter()
            .filter_map(|k| k.strip_prefix(TOKENS)?.parse().ok())
            .collect())
    }

    /// Takes a free slot for `h` (or finds the one it holds already): `None` when all `max` are taken.
    pub async fn acquire_slot(&self, h: &Holder, max: u32) -> Result<Option<u32>, PortError> {
        if let Some(slot) = self.slot_of(h).await? {
            return Ok(Some(slot));
        }
        let taken = self.taken_slots().await?;
        let first = h.first_slot(max);
        for slot in (0..max).map(|i| (first + i) % max) {
            if taken.contains(&slot) {
                continue;
            }
            self.put_json(&h.held_key(), &slot, Precondition::None)
                .await?;
            match self
                .put_json(&token_key(slot), h, Precondition::Absent)
                .await
            {
                Ok(_) => return Ok(Some(slot)),
                Err(PortError::Conflict(_)) => {
                    if self.slot_token(slot).await?.as_ref() == Some(h) {
                        return Ok(Some(slot));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Gives back the slot `h` holds, if any: `true` when one was freed. Idempotent.
    pub async fn release_slot(&self, h: &Holder) -> Result<bool, PortError> {
        let freed = match self.slot_of(h).await? {
            Some(slot) => {
                self.store().delete(&token_key(slot)).await?;
                true
            }
            None => false,
        };
        self.store().delete(&h.held_key()).await?;
        Ok(freed)
    }

    /// Passes the slot `from` holds straight to `to` (a step its result made ready), in place: `to`'s `held` key,
    /// then the token rewritten on condition it still names `from`, then `from`'s `held` key removed. The token is
    /// never free in between, so no waiter needs waking and no listing is read. A crash at any line leaves either
    /// `from` holding it (a repeat passes it again, the watchdog reclaims it) or `to` holding it (a repeat finds
    /// nothing held by `from`).
    pub async fn pass_slot(&self, from: &Holder, to: &Holder) -> Result<Pass, PortError> {
        let Some((slot, _)) = self.get_json::<u32>(&from.held_key()).await? else {
            return Ok(Pass::NotHeld);
        };
        let token = self.get_json::<Holder>(&token_key(slot)).await?;
        let Some((_, version)) = token.filter(|(h, _)| h == from) else {
            self.store().delete(&from.held_key()).await?;
            return Ok(Pass::NotHeld);
        };
        self.put_json(&to.held_key(), &slot, Precondition::None)
            .await?;
        match self
            .put_json(&token_key(slot), to, Precondition::Version(version))
            .await
        {
            Ok(_) => {}
            // Reclaimed or taken meanwhile: `from` holds nothing now.
            Err(PortError::Conflict(_)) => {
                self.store().delete(&from.held_key()).await?;
                return Ok(Pass::Lost);
            }
            Err(e) => return Err(e),
        }
        self.store().delete(&from.held_key()).await?;
        Ok(Pass::Passed)
    }

    /// Attempts waiting for a slot, oldest first, with their keys.
    pub async fn slot_waiters(&self) -> Result<Vec<(String, Holder)>, PortError> {
        let mut keys = self.store().list(WAITING).await?;
        keys.sort();
        Ok(keys
            .into_iter()
            .filter_map(|k| parse_waiting(&k).map(|h| (k, h)))
            .collect())
    }
}

/// What passing a slot did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The giver held no slot (a repeat, or it never got one): nothing passed.
    NotHeld,
    /// The token changed hands meanwhile (the watchdog reclaimed it): nothing passed, the receiver must look.
    Lost,
    /// The receiver holds the slot.
    Passed,
}

/// What a dispatch got.
pub(crate) enum SlotGrant {
    /// Start the job.
    Granted,
    /// Every slot is taken: the attempt waits, recorded, and is dispatched again when a slot frees.
    Waiting,
}

impl App {
    /// A slot for a dispatched attempt, or its place among the waiters.
    pub(crate) async fn take_slot(
        &self,
        run: &Run,
        h: &Holder,
        out: &mut Outputs,
    ) -> Result<SlotGrant, AppError> {
        let max = self.settings.max_jobs;
        if self.repo.acquire_slot(h, max).await?.is_some() {
            return Ok(SlotGrant::Granted);
        }
        let key = h.waiting_key(run.created_at, queued_since(run, &h.step));
        self.repo.put_json(&key, h, Precondition::None).await?;
        // A slot freed between the first look and the record would wake nobody: look once more.
        if self.repo.acquire_slot(h, max).await?.is_some() {
            self.repo.store().delete(&key).await?;
            return Ok(SlotGrant::Granted);
        }
        out.log(format!(
            "{}/{} attempt {} waits: {}",
            h.run,
            h.step,
            h.attempt,
            wait_reason(max)
        ));
        Ok(SlotGrant::Waiting)
    }

    /// The attempt's result is in (or it will never run): its slot goes to the oldest waiter.
    pub(crate) async fn give_back_slot(
        &self,
        h: &Holder,
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        self.hand_over_slot(h, &[], out).await
    }

    /// The attempt's result is in: its slot goes first to `successors` (the steps this result made ready, whose
    /// dispatch is in `out`: their dispatch then finds the slot theirs), then to the oldest waiters.
    pub(crate) async fn hand_over_slot(
        &self,
        h: &Holder,
        successors: &[Holder],
        out: &mut Outputs,
    ) -> Result<(), AppError> {
        let rest = match successors.split_first() {
            // The common case (a chain): the slot passes to the next step in place, and nothing is freed.
            Some((next, rest)) => match self.repo.pass_slot(h, next).await? {
                Pass::NotHeld => return Ok(()),
                Pass::Passed if rest.is_empty() => return Ok(()),
                Pass::Passed => rest,
                Pass::Lost => successors,
            },
            None => {
                if !self.repo.release_slot(h).await? {
                    return Ok(());
                }
                successors
            }
        };
        for next in rest {
            if self
                .repo
                .acquire_slot(next, self.settings.max_jobs)
                .await?
                .is_none()
            {
                return Ok(());
            }
        }
        self.wake_slot_waiters(out).await
    }

    /// Gives free slots to the oldest waiters and dispatches them again. Idempotent.
    pub(crate) async fn wake_slot_waiters(&self, out: &mut Outputs) -> Result<(), AppError> {
        for (key, h) in self.repo.slot_waiters().await? {
            if self
                .repo
                .acquire_slot(&h, self.settings.max_jobs)
                .await?
                .is_none()
            {
                break;
            }
            out.log(format!(
                "{}/{} attempt {} got a job slot at {}",
                h.run,
                h.step,
                h.attempt,
                self.now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            ));
            let m = StepMessage::new(&h.run, &h.step, h.attempt);
            out.steps
                .push(serde_json::to_string(&m).expect("serializable"));
            self.repo.store().delete(&key).await?;
        }
        Ok(())
    }

    /// The watchdog's pass over the slots: frees the tokens of holders that no longer need them (died, finished,
    /// superseded, or duplicated by a crash), then wakes waiters. Returns the attempts waiting for a slot, which
    /// must not be re-dispatched as lost.
    pub(crate) async fn reclaim_slots(&self, out: &mut Outputs) -> Result<Vec<Holder>, AppError> {
        let mut runs: BTreeMap<RunId, Option<Arc<Run>>> = BTreeMap::new();
        for slot in self.repo.taken_slots().await? {
            let Some(h) = self.repo.slot_token(slot).await? else {
                continue;
            };
            if !runs.contains_key(&h.run) {
                runs.insert(h.run.clone(), self.repo.run_shared(&h.run).await?);
            }
            let named = self
                .repo
                .get_json::<u32>(&h.held_key())
                .await?
                .is_some_and(|(s, _)| s == slot);
            if named && still_needs(runs[&h.run].as_deref(), &h) {
                continue;
            }
            out.log(format!(
                "watchdog: job slot {slot} reclaimed from {}/{} attempt {}",
                h.run, h.step, h.attempt
            ));
            self.repo.store().delete(&token_key(slot)).await?;
            if named {
                self.repo.store().delete(&h.held_key()).await?;
            }
        }
        // A waiter whose attempt is over (its run failed or finished meanwhile) is dropped.
        for (key, h) in self.repo.slot_waiters().await? {
            if !runs.contains_key(&h.run) {
                runs.insert(h.run.clone(), self.repo.run_shared(&h.run).await?);
            }
            if !still_needs(runs[&h.run].as_deref(), &h) {
                self.repo.store().delete(&key).await?;
                self.repo.store().delete(&h.held_key()).await?;
            }
        }
        self.wake_slot_waiters(out).await?;
        Ok(self
            .repo
            .slot_waiters()
            .await?
            .into_iter()
            .map(|(_, h)| h)
            .collect())
    }
}
