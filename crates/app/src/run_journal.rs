//! A run's state with no hot document (docs/architecture.md): an append-only event journal per run,
//! `runs/<id>/journal.jsonl`, folded with the pure engine.
//!
//! The first record is the run as the planner made it; then one record per event a handler applied, with the time
//! it applied at and a nonce naming the apply. Appends never conflict, and every reader folds the records in the
//! order the store holds them, so every reader computes the same state, and an apply learns what *its own* event did
//! by folding up to and including its own record. A per-process cache keeps each run's folded state and the offset
//! it was folded to, so a transition reads only the records added since. A finished run gets a compact snapshot at
//! `runs/<id>.json`, the document `status`, the metrics and the dossier read; it takes no more appends.

use crate::repo::{run_key, Repo};
use chrono::{DateTime, Utc};
use nightshift_core::engine::{self, Command, Event};
use nightshift_core::names::RunId;
use nightshift_core::ports::{PortError, Precondition};
use nightshift_core::run::Run;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Where a run's events are journaled while it is not finished.
pub fn journal_key(id: &RunId) -> String {
    format!("runs/{id}/journal.jsonl")
}

/// One line of a run's journal.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The run as planned: the state the events apply to (only the first such record counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Box<Run>>,
    /// A state that replaces whatever the records before it gave (`Repo::put_run`: repairs and tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace: Option<Box<Run>>,
    /// When the event applied: the fold applies it at this time, whoever folds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// Names the apply (or the creation) that wrote the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
}

impl Record {
    pub(crate) fn line(&self) -> Result<Vec<u8>, PortError> {
        let mut bytes =
            serde_json::to_vec(self).map_err(|e| PortError::Permanent(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// A nonce unique across processes and calls (not a secret).
pub(crate) fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{:x}-{:x}-{:x}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// What folding a stretch of journal gave.
#[derive(Debug, Default)]
pub(crate) struct Folded {
    /// Just after the last complete record folded.
    pub offset: u64,
    /// The commands of the first record carrying the nonce looked for, and whether it applied.
    pub mine: Option<(Vec<Command>, bool)>,
    /// Whether the record at the offset looked for was folded.
    pub reached: bool,
    /// The nonce of the first `run` record folded.
    pub base: Option<String>,
}

/// Folds the complete lines of `tail` (which starts at offset `start` of the journal `key`) into `state`, stopping
/// after the record that starts at `until` if given. An incomplete last line (a write cut short) is left for later.
pub(crate) fn fold(
    key: &str,
    state: &mut Option<Arc<Run>>,
    tail: &[u8],
    start: u64,
    until: Option<u64>,
    mine: Option<&str>,
) -> Result<Folded, PortError> {
    let mut out = Folded {
        offset: start,
        ..Folded::default()
    };
    let mut pos = 0usize;
    while let Some(len) = tail[pos..].iter().position(|b| *b == b'\n') {
        let at = start + pos as u64;
        let line = &tail[pos..pos + len];
        pos += len + 1;
        out.offset = start + pos as u64;
        let record: Record = serde_json::from_slice(line).map_err(|e| {
            PortError::Permanent(format!(
                "{key}: the record at byte {at} is not valid ({e}); move the file aside to rebuild the run"
            ))
        })?;
        if let Some(run) = record.run {
            if state.is_none() {
                *state = Some(Arc::new(*run));
                out.base = out.base.or(record.id.clone());
            }
        }
        if let Some(run) = record.replace {
            *state = Some(Arc::new(*run));
        }
        if let (Some(event), Some(run)) = (&record.event, state.as_mut()) {
            let now = record.at.unwrap_or(run.created_at);
            // In place: a copy only while a reader of this process still holds the state folded before.
            let (commands, changed) = engine::apply_in_place(Arc::make_mut(run), event, now);
            if out.mine.is_none() && mine.is_some() && record.id.as_deref() == mine {
                out.mine = Some((commands, changed));
            }
        }
        if until == Some(at) {
            out.reached = true;
            break;
        }
    }
    Ok(out)
}

/// A run's folded state in this process: the offset it was folded to, and the state there (`None`: not loaded).
/// Readers share the state instead of copying it (a run of 400 steps is about 600 KiB of values).
#[derive(Debug, Default)]
pub(crate) struct Fold {
    pub offset: u64,
    pub run: Option<Arc<Run>>,
}

/// How many runs' folded states a process keeps: the least recently used one not in use goes first.
pub(crate) const MAX_CACHED_RUNS: usize = 256;

type Slot = Arc<tokio::sync::Mutex<Fold>>;
/// A use counter, and each run's slot with when it was last used.
type Slots = (u64, HashMap<RunId, (Slot, u64)>);

/// The per-process cache of folded runs. A run's slot is locked while it is read or applied to, so in one process
/// an apply folds up to its own record before another moves the offset past it; other processes need no lock.
#[derive(Debug, Default)]
pub(crate) struct Folds {
    slots: Mutex<Slots>,
}

impl Folds {
    pub(crate) fn slot(&self, id: &RunId) -> Slot {
        let mut guard = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let (tick, map) = &mut *guard;
        *tick += 1;
        let now = *tick;
        if let Some((slot, used)) = map.get_mut(id) {
            *used = now;
            return slot.clone();
        }
        if map.len() >= MAX_CACHED_RUNS {
            let oldest = map
                .iter()
                .filter(|(_, (slot, _))| Arc::strong_count(slot) == 1)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        let slot: Slot = Arc::default();
        map.insert(id.clone(), (slot.clone(), now));
        slot
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.lock().map(|g| g.1.len()).unwrap_or_default()
    }
}

/// What a load found.
enum Loaded {
    Absent,
    /// A finished run's snapshot (not cached: one read gives it).
    Final(Box<Run>),
    /// The journal's state, in the fold.
    Live,
}

fn transient(key: &str, what: &str) -> PortError {
    PortError::Transient(format!("{key}: {what}; try again"))
}

impl Repo {
    /// A run as it stands: its snapshot once finished, else its journal folded (reading only what this process has
    /// not folded yet). A run document written before the journals existed is read as it is when finished, and
    /// becomes the first record of a journal when not.
    pub async fn run(&self, id: &RunId) -> Result<Option<Run>, PortError> {
        Ok(self.run_shared(id).await?.map(Arc::unwrap_or_clone))
    }

    /// [`Repo::run`], sharing the state this process has folded instead of copying it: what a transition reads.
    pub async fn run_shared(&self, id: &RunId) -> Result<Option<Arc<Run>>, PortError> {
        let slot = self.folds.slot(id);
        let mut fold = slot.lock().await;
        Ok(match self.refresh(id, &mut fold).await? {
            Loaded::Absent => None,
            Loaded::Final(run) => Some(Arc::new(*run)),
            Loaded::Live => fold.run.clone(),
        })
    }

    /// Brings `fold` up to the end of the run's journal, or loads the run afresh when it is not loaded.
    async fn refresh(&self, id: &RunId, fold: &mut Fold) -> Result<Loaded, PortError> {
        let key = journal_key(id);
        if fold.run.is_some() {
            if let Some(tail) = self.store.read_from(&key, fold.offset).await? {
                fold.offset =
                    self::fold(&key, &mut fold.run, &tail, fold.offset, None, None)?.offset;
                return Ok(Loaded::Live);
            }
            // The journal went (retention): load afresh.
            *fold = Fold::default();
        }
        let doc = self.read_json::<Run>(&run_key(id)).await?;
        let doc = match doc {
            Some(run) if run.status.is_finished() => return Ok(Loaded::Final(Box::new(run))),
            other => other,
        };
        let tail = match (self.store.read_from(&key, 0).await?, doc) {
            (Some(tail), _) => tail,
            (None, None) => return Ok(Loaded::Absent),
            (None, Some(legacy)) => {
                self.migrate(&legacy).await?;
                self.store
                    .read_from(&key, 0)
                    .await?
                    .ok_or_else(|| transient(&key, "the journal vanished while it was created"))?
            }
        };
        let mut state = None;
        let folded = self::fold(&key, &mut state, &tail, 0, None, None)?;
        if state.is_none() {
            // A journal whose first record never landed: the run was not created.
            return Ok(Loaded::Absent);
        }
        *fold = Fold {
            offset: folded.offset,
            run: state,
        };
        Ok(Loaded::Live)
    }

    /// An unfinished run document of a state directory written before the run journals: it becomes the first record
    /// of the run's journal (a concurrent migration of the same run writes nothing more).
    async fn migrate(&self, legacy: &Run) -> Result<(), PortError> {
        tracing::info!(run = %legacy.id, "run document converted to a run journal");
        let record = Record {
            run: Some(Box::new(legacy.clone())),
            id: Some(nonce()),
            ..Record::default()
        };
        let key = journal_key(&legacy.id);
        let line = record.line()?;
        if self.store.create_appendable(&key, line.clone()).await? {
            return Ok(());
        }
        // Created by another, or a creation stopped before its first record (an empty Append Blob): the first `run`
        // record counts, so adding ours to a journal without one is safe.
        let tail = self.store.read_from(&key, 0).await?.unwrap_or_default();
        let mut state = None;
        self::fold(&key, &mut state, &tail, 0, None, None)?;
        if state.is_none() {
            self.store.append(&key, line).await?;
        }
        Ok(())
    }

    /// Creates a run unless one with that id exists: `Ok(false)` when it existed. The run is marked active first: a
    /// marker whose run was never written is skipped, while a run without a marker would never be watched.
    pub async fn create_run(&self, run: &Run) -> Result<bool, PortError> {
        // A repeat (a second firing, a redelivered release) finds the run and marks nothing: a finished run must
        // not come back to the watchdog.
        if self.run(&run.id).await?.is_some() {
            return Ok(false);
        }
        if run.status.is_finished() {
            return match self
                .put_json(&run_key(&run.id), run, Precondition::Absent)
                .await
            {
                Ok(_) => Ok(true),
                Err(PortError::Conflict(_)) => Ok(false),
                Err(e) => Err(e),
            };
        }
        self.mark_active(&run.id).await?;
        let key = journal_key(&run.id);
        let mine = nonce();
        let line = Record {
            run: Some(Box::new(run.clone())),
            id: Some(mine.clone()),
            ..Record::default()
        }
        .line()?;
        if self.store.create_appendable(&key, line.clone()).await? {
            return Ok(true);
        }
        // It exists: another creator won, or a creation stopped before its first record landed (an Append Blob is
        // created, then written). Then the first `run` record appended wins.
        let has_base = |tail: &[u8]| -> Result<Option<String>, PortError> {
            let mut state = None;
            let f = self::fold(&key, &mut state, tail, 0, None, None)?;
            Ok(state.map(|_| f.base.unwrap_or_default()))
        };
        let tail = self.store.read_from(&key, 0).await?.unwrap_or_default();
        if has_base(&tail)?.is_some() {
            return Ok(false);
        }
        self.store.append(&key, line).await?;
        let tail = self.store.read_from(&key, 0).await?.unwrap_or_default();
        Ok(has_base(&tail)?.as_deref() == Some(mine.as_str()))
    }

    /// Applies an event: appends it to the run's journal (appends never conflict), then folds the journal up to and
    /// including that record. Returns the commands *this* event produced (none if it did not apply: a duplicate, a
    /// stale attempt) and the run as it stands after it. An event for a finished run changes nothing and writes
    /// nothing; the event that finishes a run writes its snapshot.
    pub async fn apply(
        &self,
        id: &RunId,
        event: &Event,
        now: DateTime<Utc>,
    ) -> Result<Option<(Arc<Run>, Vec<Command>, bool)>, PortError> {
        let key = journal_key(id);
        let slot = self.folds.slot(id);
        let mut fold = slot.lock().await;
        if fold.run.is_none() {
            match self.refresh(id, &mut fold).await? {
                Loaded::Absent => return Ok(None),
                Loaded::Final(run) => return Ok(Some((Arc::new(*run), Vec::new(), false))),
                Loaded::Live => {}
            }
        }
        if let Some(run) = fold.run.as_ref().filter(|r| r.status.is_finished()) {
            // Its finishing event landed but its snapshot may not have (the writer died): write it now.
            let run = run.clone();
            self.snapshot(&run).await?;
            *fold = Fold::default();
            return Ok(Some((run, Vec::new(), false)));
        }
        let mine = nonce();
        let record = Record {
            at: Some(now),
            id: Some(mine.clone()),
            event: Some(event.clone()),
            ..Record::default()
        };
        let Some(at) = self.store.append(&key, record.line()?).await? else {
            // The journal went (retention removed a finished run): nothing to apply to.
            *fold = Fold::default();
            return Ok(match self.refresh(id, &mut fold).await? {
                Loaded::Absent => None,
                Loaded::Final(run) => Some((Arc::new(*run), Vec::new(), false)),
                Loaded::Live => fold.run.clone().map(|r| (r, Vec::new(), false)),
            });
        };
        let tail = self
            .store
            .read_from(&key, fold.offset)
            .await?
            .ok_or_else(|| transient(&key, "the journal vanished after an append"))?;
        let f = &mut *fold;
        let folded = self::fold(&key, &mut f.run, &tail, f.offset, Some(at), Some(&mine))?;
        f.offset = folded.offset;
        let (commands, changed) = match (folded.reached, folded.mine) {
            (true, Some(mine)) => mine,
            _ => {
                *fold = Fold::default();
                return Err(transient(&key, "the record just appended was not found"));
            }
        };
        let run = fold.run.clone().expect("a folded journal has a run");
        if run.status.is_finished() {
            self.snapshot(&run).await?;
            *fold = Fold::default();
        }
        Ok(Some((run, commands, changed)))
    }

    /// A finished run's compact snapshot: what every later read gets, in one document.
    async fn snapshot(&self, run: &Run) -> Result<(), PortError> {
        self.put_json(&run_key(&run.id), run, Precondition::None)
            .await
            .map(|_| ())
    }

    /// Replaces a run's state (repairs, and tests that stage a state): a record of the journal every reader folds
    /// from, and the snapshot when the run is finished.
    pub async fn put_run(&self, run: &Run) -> Result<(), PortError> {
        let key = journal_key(&run.id);
        let slot = self.folds.slot(&run.id);
        let mut fold = slot.lock().await;
        *fold = Fold::default();
        let line = Record {
            replace: Some(Box::new(run.clone())),
            run: Some(Box::new(run.clone())),
            id: Some(nonce()),
            ..Record::default()
        }
        .line()?;
        if !self.store.create_appendable(&key, line.clone()).await? {
            self.store.append(&key, line).await?;
        }
        if run.status.is_finished() {
            self.snapshot(run).await
        } else {
            self.store.delete(&run_key(&run.id)).await
        }
    }

    /// Every run in the store (their snapshots and journals), oldest first.
    pub async fn runs(&self) -> Result<Vec<Run>, PortError> {
        let mut ids = std::collections::BTreeSet::new();
        for key in self.store.list("runs/").await? {
            let Some(rest) = key.strip_prefix("runs/") else {
                continue;
            };
            let id = match rest.split_once('/') {
                Some((id, "journal.jsonl")) => id,
                Some(_) => continue,
                None => match rest.strip_suffix(".json") {
                    Some(id) => id,
                    None => continue,
                },
            };
            if let Ok(id) = RunId::parse(id) {
                ids.insert(id);
            }
        }
        let mut out = Vec::new();
        for id in ids {
            if let Some(r) = self.run(&id).await? {
                out.push(r);
            }
        }
        out.sort_by_key(|r| r.created_at);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> RunId {
        RunId::parse(&format!("demo.pr-{n}.nightly-20261121-00000000")).unwrap()
    }

    #[test]
    fn the_cache_keeps_at_most_its_bound_and_drops_the_least_recently_used_first() {
        let folds = Folds::default();
        for n in 0..MAX_CACHED_RUNS {
            folds.slot(&id(n));
        }
        folds.slot(&id(0)); // used again: the oldest is now 1

        folds.slot(&id(MAX_CACHED_RUNS));

        assert_eq!(folds.len(), MAX_CACHED_RUNS);
        let map = folds.slots.lock().unwrap();
        assert!(map.1.contains_key(&id(0)));
        assert!(!map.1.contains_key(&id(1)));
    }

    #[test]
    fn an_incomplete_last_line_is_not_folded_and_the_offset_stays_before_it() {
        let mut state = None;
        let tail = b"{\"at\":null}\n{\"run\":";

        let folded = fold("k", &mut state, tail, 100, None, None).unwrap();

        assert_eq!(folded.offset, 112);
        assert!(state.is_none());
    }

    #[test]
    fn a_complete_record_that_is_not_valid_is_refused_with_the_key_and_the_offset() {
        let err = fold(
            "runs/x/journal.jsonl",
            &mut None,
            b"{}\nnot json\n",
            0,
            None,
            None,
        )
        .unwrap_err();

        let text = err.to_string();
        assert!(text.contains("runs/x/journal.jsonl"), "{text}");
        assert!(text.contains("byte 3"), "{text}");
    }
}
