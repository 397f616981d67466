//! The ports: small traits the core's use cases need, implemented by the local (embedded) adapters and the Azure
//! adapters. The local adapters double as the test fakes.

use crate::engine::Notification;
use crate::expiry::ResourceGroup;
use crate::names::{JobName, RunId, StepName};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt;

/// An adapter's failure, classified: whether another try may succeed decides between retrying a message and
/// rejecting it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Another try may succeed (network, throttling, a service restarting).
    #[error("transient: {0}")]
    Transient(String),
    /// A conditional write lost against another writer: re-read and re-apply.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Retrying will not help (permissions, bad request, configuration).
    #[error("{0}")]
    Permanent(String),
}

impl PortError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Permanent(_))
    }
}

/// Stored bytes and the version (ETag) they were read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub bytes: Vec<u8>,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Write whatever is there.
    None,
    /// Only create: fails with Conflict if the key exists.
    Absent,
    /// Only replace this version: fails with Conflict otherwise.
    Version(String),
}

/// Journals, run documents, logs and outputs.
#[async_trait]
pub trait Store: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError>;
    /// The bytes without their version, for readers that will not write back: a store whose versions cost
    /// something to compute (FsStore hashes the content) skips that.
    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        Ok(self.get(key).await?.map(|v| v.bytes))
    }
    /// Writes and returns the new version.
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        precondition: Precondition,
    ) -> Result<String, PortError>;
    /// Keys under a prefix, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError>;
    async fn delete(&self, key: &str) -> Result<(), PortError>;

    /// Creates an append-only key (a run's event journal) holding `first`, unless the key exists: `Ok(false)`, and
    /// nothing written, when it does. Records are lines: each ends with `\n` and holds no other.
    ///
    /// The default writes through `put` with `Precondition::Absent`; stores with a native append (a file opened
    /// with `O_APPEND`, an Append Blob) override the three append operations together.
    async fn create_appendable(&self, key: &str, first: Vec<u8>) -> Result<bool, PortError> {
        check_record(key, &first)?;
        match self.put(key, first, Precondition::Absent).await {
            Ok(_) => Ok(true),
            Err(PortError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Adds one record at the end of an append-only key and returns the offset where it landed; `Ok(None)` when
    /// the key does not exist (an append never creates). Appends never conflict with each other: concurrent
    /// writers all land, in an order every reader sees the same.
    ///
    /// The default is a read-modify-write with conditional writes, retried on conflict: correct on any store,
    /// without the native append's cost.
    async fn append(&self, key: &str, record: Vec<u8>) -> Result<Option<u64>, PortError> {
        check_record(key, &record)?;
        for _ in 0..64 {
            let Some(cur) = self.get(key).await? else {
                return Ok(None);
            };
            let offset = complete_len(&cur.bytes);
            let mut bytes = cur.bytes;
            bytes.truncate(offset);
            bytes.extend_from_slice(&record);
            match self
                .put(key, bytes, Precondition::Version(cur.version))
                .await
            {
                Ok(_) => return Ok(Some(offset as u64)),
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(PortError::Transient(format!(
            "{key}: too many concurrent appends"
        )))
    }

    /// The bytes of an append-only key from `offset` to its end (empty past the end); `Ok(None)` when the key does
    /// not exist. A last record without its `\n` (a write cut short) may be part of the answer: readers ignore it.
    async fn read_from(&self, key: &str, offset: u64) -> Result<Option<Vec<u8>>, PortError> {
        Ok(self.get(key).await?.map(|v| {
            let start = (offset as usize).min(v.bytes.len());
            v.bytes[start..].to_vec()
        }))
    }
}

/// An append-only record is one line: it ends with `\n` and holds no other (so a torn last line is recognisable).
pub fn check_record(key: &str, record: &[u8]) -> Result<(), PortError> {
    let lines = record.iter().filter(|b| **b == b'\n').count();
    if lines != 1 || record.last() != Some(&b'\n') {
        return Err(PortError::Permanent(format!(
            "a record appended to {key} must be one line ending with a newline"
        )));
    }
    Ok(())
}

/// The length of the complete lines at the start of `bytes`: what is left once a torn last line is cut off.
pub fn complete_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    pub queue: String,
    pub body: String,
    /// Deterministic, so duplicate detection drops a repeat.
    pub message_id: String,
    pub correlation_id: Option<String>,
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// Sending messages ourselves: scheduled retries, and the runner's results. Immediate messages from a function
/// invocation go out through the Functions host's output bindings instead.
#[async_trait]
pub trait Bus: Send + Sync {
    async fn send(&self, message: OutboundMessage) -> Result<(), PortError>;
}

/// What a job needs to run one attempt of one step. Secrets are names (Key Vault references), never values.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub name: JobName,
    pub run_id: RunId,
    pub step: StepName,
    pub attempt: u32,
    pub env: BTreeMap<String, String>,
    /// Environment variable -> Key Vault secret name.
    pub secrets: BTreeMap<String, String>,
    pub cpu: f64,
    pub memory_gb: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStart {
    Started,
    /// A job of that name exists already (a redelivered dispatch): nothing was started.
    AlreadyExists,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    NotFound,
    Running,
    Exited {
        code: i32,
        finished_at: Option<DateTime<Utc>>,
    },
}

/// Runs step attempts as jobs (a local process, an Azure Container Instances group).
#[async_trait]
pub trait Jobs: Send + Sync {
    async fn start(&self, spec: &JobSpec) -> Result<JobStart, PortError>;
    async fn state(&self, name: &JobName) -> Result<JobState, PortError>;
    async fn logs(&self, name: &JobName) -> Result<String, PortError>;
    /// Stops a running job; a job that is gone is fine.
    async fn stop(&self, name: &JobName) -> Result<(), PortError>;
    /// Forgets a finished job (frees its container group); a job that is gone is fine.
    async fn delete(&self, name: &JobName) -> Result<(), PortError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    AlreadyGone,
}

/// What a tag update found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagUpdate {
    Updated,
    /// The group does not exist (deleted meanwhile): nothing to tag.
    GroupGone,
}

/// Resource groups (local directories, or Azure Resource Manager).
#[async_trait]
pub trait Cloud: Send + Sync {
    /// Every group tagged as managed by this instance.
    async fn list_managed(&self, instance: &str) -> Result<Vec<ResourceGroup>, PortError>;
    async fn delete_group(&self, name: &str) -> Result<Deletion, PortError>;
    /// After a group is deleted: purges the soft-deleted key vaults it held, so their globally unique names are
    /// free for the next environment of the same name. Returns the purged vaults. Clouds without soft delete have
    /// nothing to do.
    async fn purge_deleted_vaults(&self, _group: &str) -> Result<Vec<String>, PortError> {
        Ok(Vec::new())
    }
    /// Sets these tags on a group, leaving its other tags as they are (ARM's Tags API `Merge`): how extending or
    /// keeping an environment moves its `nightshift-expires-at`. A cloud that cannot do it refuses (fail closed).
    async fn merge_tags(
        &self,
        group: &str,
        _tags: &BTreeMap<String, String>,
    ) -> Result<TagUpdate, PortError> {
        Err(PortError::Permanent(format!(
            "this cloud cannot update the tags of resource group {group}"
        )))
    }
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Tells people (Slack, Teams, a log, GitHub deployments).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, notification: &Notification) -> Result<(), PortError>;
    /// A stable name for this destination (`teams:notify-teams-url`): delivery records and retries name it.
    fn target(&self) -> String {
        "log".into()
    }
}

/// A secret's value: never printed, never serialized.
#[derive(Clone)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(***)")
    }
}

/// Reads secrets by name at run time (Key Vault, or a local directory).
#[async_trait]
pub trait Secrets: Send + Sync {
    async fn get(&self, name: &str) -> Result<SecretValue, PortError>;
}
