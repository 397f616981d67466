//! Typed access to the store: runs (an event journal each, folded: crate::run_journal), rejected messages,
//! environment records, step results and logs. The key layout is the journal's public shape (see the README).

use chrono::{DateTime, Utc};
use nightshift_core::messages::StepEventMessage;
use nightshift_core::names::{RunId, StepName};
use nightshift_core::ports::{PortError, Precondition, Store};
use nightshift_core::run::Run;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A finished run's snapshot (and the whole run document of state directories written before the run journals).
pub fn run_key(id: &RunId) -> String {
    format!("runs/{id}.json")
}
pub use crate::run_journal::journal_key;
pub fn result_key(run: &RunId, step: &StepName, attempt: u32) -> String {
    format!("results/{run}/{step}/{attempt}.json")
}
/// What the job of a step attempt reads of its run ([`Run::for_step`]), written when the job is started.
pub fn assignment_key(run: &RunId, step: &StepName, attempt: u32) -> String {
    format!("assignments/{run}/{step}/{attempt}.json")
}
pub fn log_key(run: &RunId, step: &StepName, attempt: u32) -> String {
    format!("logs/{run}/{step}/{attempt}.log")
}
pub fn environment_key(product: &str, env: &str) -> String {
    format!("environments/{product}/{env}.json")
}
/// Present while a run is waiting or running: what the watchdog looks at.
pub fn active_key(id: &RunId) -> String {
    format!("active/{id}")
}
/// Which run builds an environment now (its content is the run id); free once that run has finished.
pub fn lease_key(product: &str, env: &str) -> String {
    format!("leases/{product}/{env}")
}

/// Where the outcome of a `releases` message is journaled: one key per Service Bus MessageId, hashed so any id is
/// a safe key and two ids never share one.
pub fn action_key(message_id: &str) -> String {
    let digest = Sha256::digest(message_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("actions/{hex}.json")
}

/// Whether an action message applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionOutcome {
    Applied,
    Rejected,
}

/// The outcome of one `releases` message (docs/messages.md), written once by the handler: what `--wait` polls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub message_id: String,
    /// `deploy`, `close`, `destroy`, `extend`, `keep`; null when the message could not be read that far.
    pub action: Option<String>,
    pub product: Option<String>,
    pub environment: Option<String>,
    pub requested_by: Option<String>,
    pub at: DateTime<Utc>,
    pub outcome: ActionOutcome,
    /// Why it was rejected, or a note on how it applied (e.g. a teardown deferred until a build ends).
    pub reason: Option<String>,
    /// Deploy: the run it started (or joined).
    pub run_id: Option<String>,
    /// Deploy, extend, keep: the environment's expiry afterwards.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A close or destroy that arrived while a run was building the environment: done when that run finishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingTeardown {
    pub message_id: String,
    /// The reason the environment will be recorded destroyed with (`closed by alice`).
    pub reason: String,
    #[serde(default)]
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

/// The time from a failure to the environment ready again (for the metrics issue).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub failed_run: String,
    pub failed_at: DateTime<Utc>,
    pub recovered_by_run: String,
    pub ready_at: DateTime<Utc>,
    pub seconds: i64,
}

/// Where a rejected message is recorded: a readable prefix of its id, then a digest of the whole id and body. Ids
/// that differ only in characters a key cannot hold (`id/with/slash`, `id_with_slash`), empty ids and ids of any
/// length all get keys of their own; a redelivery (same id, same body) finds the same key.
pub fn rejection_key(queue: &str, message_id: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update((message_id.len() as u64).to_be_bytes());
    h.update(message_id.as_bytes());
    h.update(body.as_bytes());
    let digest: String = h
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let readable: String = message_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    if readable.is_empty() {
        format!("rejected/{queue}/{digest}.json")
    } else {
        format!("rejected/{queue}/{readable}-{digest}.json")
    }
}

/// Rejection records keep the message id and the reason, cut to these lengths (the body to a few KiB).
const MAX_RECORDED_ID_CHARS: usize = 1024;
const MAX_RECORDED_REASON_CHARS: usize = 4096;

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// A message that can never succeed, kept with its reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub at: DateTime<Utc>,
    pub queue: String,
    pub message_id: String,
    pub reason: String,
    /// The body, cut to a few KiB (messages carry no secrets).
    pub body: String,
}

/// The last known state of an environment. Fields after `destroyed_reason` came with the lifecycle actions; records
/// written before read them as absent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EnvironmentRecord {
    pub product: String,
    pub environment: String,
    pub kind: String,
    pub last_run: String,
    /// `building`, `ready`, `failed`, `destroying`, `destroyed`.
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub destroyed_at: Option<DateTime<Utc>>,
    pub destroyed_reason: Option<String>,
    /// Why it expires when it does: `lifetime`, `extended`, `kept`, `failed` (moved by `on_failure: destroy`);
    /// null for a persistent environment.
    #[serde(default)]
    pub expiry_reason: Option<String>,
    #[serde(default)]
    pub kept_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub keep_reason: Option<String>,
    /// The version last deployed (`nightly` for a nightly run).
    #[serde(default)]
    pub version: Option<String>,
    /// Name -> URL, from the last successful run's outputs.
    #[serde(default)]
    pub urls: BTreeMap<String, String>,
    #[serde(default)]
    pub last_success_run: Option<String>,
    /// Since when the environment is failed (the start of the recovery clock); null once ready again.
    #[serde(default)]
    pub failed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub failed_run: Option<String>,
    #[serde(default)]
    pub last_recovery: Option<Recovery>,
    /// The message id of the action that last moved the expiry: a redelivery of it moves nothing again.
    #[serde(default)]
    pub expiry_set_by: Option<String>,
    #[serde(default)]
    pub pending_teardown: Option<PendingTeardown>,
}

impl EnvironmentRecord {
    /// Neither destroyed nor being destroyed.
    pub fn is_live(&self) -> bool {
        !matches!(self.status.as_str(), "destroyed" | "destroying")
    }
}

/// Typed store access. Clones share the cache of folded runs (crate::run_journal).
#[derive(Clone)]
pub struct Repo {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) folds: Arc<crate::run_journal::Folds>,
}

/// How many times a conditional write is re-tried against concurrent writers before giving up (retryable).
const MAX_CAS_ATTEMPTS: usize = 50;

impl Repo {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            folds: Arc::default(),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<(T, String)>, PortError> {
        match self.store.get(key).await? {
            None => Ok(None),
            Some(v) => {
                let t = serde_json::from_slice(&v.bytes)
                    .map_err(|e| PortError::Permanent(format!("{key} is not valid: {e}")))?;
                Ok(Some((t, v.version)))
            }
        }
    }

    /// A document without its version (nothing is written back): no hashing on stores whose versions are hashes.
    pub async fn read_json<T: for<'de> Deserialize<'de>>(
        &self,
        key: &str,
    ) -> Result<Option<T>, PortError> {
        match self.store.read(key).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| PortError::Permanent(format!("{key} is not valid: {e}"))),
        }
    }

    pub async fn put_json<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        pre: Precondition,
    ) -> Result<String, PortError> {
        let bytes =
            serde_json::to_vec_pretty(value).map_err(|e| PortError::Permanent(e.to_string()))?;
        self.store.put(key, bytes, pre).await
    }

    /// Removes a finished run: its snapshot, its event journal, its step results and logs (retention).
    /// Idempotent: what is gone already is skipped. Its digest in the run index stays.
    pub async fn remove_run(&self, id: &RunId) -> Result<(), PortError> {
        for prefix in [
            format!("results/{id}/"),
            format!("logs/{id}/"),
            format!("assignments/{id}/"),
        ] {
            for key in self.store.list(&prefix).await? {
                self.store.delete(&key).await?;
            }
        }
        // The journal first: a run whose journal is gone reads from its snapshot, while a snapshot removed first
        // would let its journal speak for it again.
        self.store.delete(&journal_key(id)).await?;
        self.store.delete(&run_key(id)).await
    }

    pub async fn mark_active(&self, id: &RunId) -> Result<(), PortError> {
        self.store
            .put(
                &active_key(id),
                id.to_string().into_bytes(),
                Precondition::None,
            )
            .await
            .map(|_| ())
    }

    pub async fn clear_active(&self, id: &RunId) -> Result<(), PortError> {
        self.store.delete(&active_key(id)).await
    }

    /// Runs marked active (waiting or running), oldest first. A marker whose run is gone is skipped.
    pub async fn active_runs(&self) -> Result<Vec<Run>, PortError> {
        let mut out = Vec::new();
        for key in self.store.list("active/").await? {
            let Some(id) = key
                .strip_prefix("active/")
                .and_then(|k| RunId::parse(k).ok())
            else {
                continue;
            };
            if let Some(r) = self.run(&id).await? {
                out.push(r);
            }
        }
        out.sort_by_key(|r| r.created_at);
        Ok(out)
    }

    /// Takes the environment's lease for `run`, unless another run that has not finished holds it: then that
    /// run's id. Conditional writes make two runs racing for a free environment agree on one winner.
    pub async fn acquire_lease(&self, run: &Run) -> Result<Option<RunId>, PortError> {
        let key = lease_key(run.product.as_str(), run.environment.as_str());
        let me = run.id.to_string().into_bytes();
        for _ in 0..MAX_CAS_ATTEMPTS {
            match self.store.put(&key, me.clone(), Precondition::Absent).await {
                Ok(_) => return Ok(None),
                Err(PortError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
            let Some(held) = self.store.get(&key).await? else {
                continue;
            };
            let holder = String::from_utf8_lossy(&held.bytes).trim().to_string();
            if holder == run.id.as_str() {
                return Ok(None);
            }
            let holder = RunId::parse(&holder).ok();
            let busy = match &holder {
                Some(h) => self.run(h).await?.is_some_and(|r| !r.status.is_finished()),
                None => false,
            };
            if busy {
                return Ok(holder);
            }
            match self
                .store
                .put(&key, me.clone(), Precondition::Version(held.version))
                .await
            {
                Ok(_) => return Ok(None),
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PortError::Transient(format!(
            "lease {key}: too many concurrent writers"
        )))
    }

    pub async fn reject(&self, r: &Rejected) -> Result<(), PortError> {
        let key = rejection_key(&r.queue, &r.message_id, &r.body);
        let mut record = r.clone();
        record.message_id = cut(&r.message_id, MAX_RECORDED_ID_CHARS);
        record.reason = cut(&r.reason, MAX_RECORDED_REASON_CHARS);
        // A redelivery of the same rejected message keeps the first record.
        match self.put_json(&key, &record, Precondition::Absent).await {
            Ok(_) | Err(PortError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn rejected(&self) -> Result<Vec<Rejected>, PortError> {
        let mut out = Vec::new();
        for key in self.store.list("rejected/").await? {
            if let Some((r, _)) = self.get_json::<Rejected>(&key).await? {
                out.push(r);
            }
        }
        out.sort_by_key(|r| r.at);
        Ok(out)
    }

    pub async fn put_environment(&self, rec: &EnvironmentRecord) -> Result<(), PortError> {
        self.put_json(
            &environment_key(&rec.product, &rec.environment),
            rec,
            Precondition::None,
        )
        .await
        .map(|_| ())
    }

    pub async fn environment(
        &self,
        product: &str,
        env: &str,
    ) -> Result<Option<EnvironmentRecord>, PortError> {
        self.read_json(&environment_key(product, env)).await
    }

    /// Read-modify-write of an environment record with a conditional write, re-applied on a lost race. `change`
    /// gets the record as stored (or `None`) and returns the record to write, or `None` to write nothing.
    pub async fn update_environment(
        &self,
        product: &str,
        env: &str,
        mut change: impl FnMut(Option<EnvironmentRecord>) -> Option<EnvironmentRecord>,
    ) -> Result<Option<EnvironmentRecord>, PortError> {
        let key = environment_key(product, env);
        for _ in 0..MAX_CAS_ATTEMPTS {
            let (current, pre) = match self.get_json::<EnvironmentRecord>(&key).await? {
                Some((r, v)) => (Some(r), Precondition::Version(v)),
                None => (None, Precondition::Absent),
            };
            let Some(next) = change(current.clone()) else {
                return Ok(current);
            };
            if Some(&next) == current.as_ref() {
                return Ok(current);
            }
            match self.put_json(&key, &next, pre).await {
                Ok(_) => return Ok(Some(next)),
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PortError::Transient(format!(
            "{key}: too many concurrent writers"
        )))
    }

    /// The outcome of a `releases` message, once the handler has journaled it.
    pub async fn action(&self, message_id: &str) -> Result<Option<ActionRecord>, PortError> {
        self.read_json(&action_key(message_id)).await
    }

    /// Journals an action's outcome once: `Ok(false)` when a record was there already (a redelivery), which is kept.
    pub async fn record_action(&self, rec: &ActionRecord) -> Result<bool, PortError> {
        match self
            .put_json(&action_key(&rec.message_id), rec, Precondition::Absent)
            .await
        {
            Ok(_) => Ok(true),
            Err(PortError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn environments(&self) -> Result<Vec<EnvironmentRecord>, PortError> {
        let mut out = Vec::new();
        for key in self.store.list("environments/").await? {
            if let Some((r, _)) = self.get_json::<EnvironmentRecord>(&key).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    pub async fn result(
        &self,
        run: &RunId,
        step: &StepName,
        attempt: u32,
    ) -> Result<Option<StepEventMessage>, PortError> {
        self.read_json(&result_key(run, step, attempt)).await
    }

    /// Writes what the job of a step attempt reads of its run (idempotent: a repeat writes the same).
    pub async fn put_assignment(
        &self,
        run: &Run,
        step: &StepName,
        attempt: u32,
    ) -> Result<(), PortError> {
        let bytes = serde_json::to_vec(&run.for_step(step))
            .map_err(|e| PortError::Permanent(e.to_string()))?;
        self.store
            .put(
                &assignment_key(&run.id, step, attempt),
                bytes,
                Precondition::None,
            )
            .await
            .map(|_| ())
    }

    /// The run as the job of a step attempt sees it, if its assignment was written.
    pub async fn assignment(
        &self,
        run: &RunId,
        step: &StepName,
        attempt: u32,
    ) -> Result<Option<Run>, PortError> {
        self.read_json(&assignment_key(run, step, attempt)).await
    }
}
