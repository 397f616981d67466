//! `CountingStore`: a `Store` decorator that records every operation (its kind, key, bytes and outcome) as one line
//! appended to a file, for the benchmarks: bytes read and written per transition, conditional writes lost.
//!
//! Every process of a local stack (the handler, each runner) appends to the same file with `O_APPEND`, one
//! `write` per line, so lines from several processes never interleave and a process killed at any point loses at
//! most the operation it was doing. The local wiring wraps the store in it when `NIGHTSHIFT_STORE_STATS` names a
//! file; nothing else uses it. Keys and sizes only: never the bytes themselves (secrets never reach the file).
//!
//! Line format, tab-separated: `op key bytes outcome`, where `op` is `get`, `put`, `list` or `delete`, `bytes` is
//! the bytes read (`get`; 0 when absent), written (`put`) or the number of keys listed (`list`), and `outcome` is
//! `ok`, `absent` (a `get` of nothing), `conflict` (a conditional `put` lost) or `error`. [`StoreStats::read`]
//! sums a file back.
//!
//! Every `Store` method is forwarded (the journal's `create_appendable`, `append` and `read_from` and the
//! version-less `read` included): one added to the trait must be forwarded here too, or the decorator would answer
//! with the trait's default instead of the wrapped store's.

use async_trait::async_trait;
use nightshift_core::ports::{PortError, Precondition, Store, Versioned};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The environment variable naming the file the local wiring records store operations in.
pub const STORE_STATS_ENV: &str = "NIGHTSHIFT_STORE_STATS";

/// A `Store` that records each operation on the one it wraps.
pub struct CountingStore {
    inner: Arc<dyn Store>,
    file: PathBuf,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn Store>, file: impl Into<PathBuf>) -> Self {
        Self {
            inner,
            file: file.into(),
        }
    }

    fn record<T>(&self, op: &str, key: &str, bytes: usize, result: &Result<T, PortError>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(PortError::Conflict(_)) => "conflict",
            Err(_) => "error",
        };
        self.line(op, key, bytes, outcome);
    }

    fn line(&self, op: &str, key: &str, bytes: usize, outcome: &str) {
        let line = format!("{op}\t{key}\t{bytes}\t{outcome}\n");
        // Best effort: a benchmark's bookkeeping must never fail the operation it watches.
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(file = %self.file.display(), "cannot record a store operation: {e}");
        }
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError> {
        let result = self.inner.get(key).await;
        match &result {
            Ok(Some(v)) => self.line("get", key, v.bytes.len(), "ok"),
            Ok(None) => self.line("get", key, 0, "absent"),
            Err(_) => self.record("get", key, 0, &result),
        }
        result
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        precondition: Precondition,
    ) -> Result<String, PortError> {
        let len = bytes.len();
        let result = self.inner.put(key, bytes, precondition).await;
        self.record("put", key, len, &result);
        result
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        let result = self.inner.list(prefix).await;
        let n = result.as_ref().map(Vec::len).unwrap_or(0);
        self.record("list", prefix, n, &result);
        result
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let result = self.inner.delete(key).await;
        self.record("delete", key, 0, &result);
        result
    }

    // The other operations count as the reads and writes they are: `read` and `read_from` as `get` (the bytes
    // returned), `create_appendable` and `append` as `put` (the bytes written; a create that found the key
    // there as a conflict).

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        let result = self.inner.read(key).await;
        match &result {
            Ok(Some(b)) => self.line("get", key, b.len(), "ok"),
            Ok(None) => self.line("get", key, 0, "absent"),
            Err(_) => self.record("get", key, 0, &result),
        }
        result
    }

    async fn create_appendable(&self, key: &str, first: Vec<u8>) -> Result<bool, PortError> {
        let len = first.len();
        let result = self.inner.create_appendable(key, first).await;
        match &result {
            Ok(true) => self.line("put", key, len, "ok"),
            Ok(false) => self.line("put", key, len, "conflict"),
            Err(_) => self.record("put", key, len, &result),
        }
        result
    }

    async fn append(&self, key: &str, record: Vec<u8>) -> Result<Option<u64>, PortError> {
        let len = record.len();
        let result = self.inner.append(key, record).await;
        match &result {
            Ok(Some(_)) => self.line("put", key, len, "ok"),
            Ok(None) => self.line("put", key, 0, "absent"),
            Err(_) => self.record("put", key, len, &result),
        }
        result
    }

    async fn read_from(&self, key: &str, offset: u64) -> Result<Option<Vec<u8>>, PortError> {
        let result = self.inner.read_from(key, offset).await;
        match &result {
            Ok(Some(b)) => self.line("get", key, b.len(), "ok"),
            Ok(None) => self.line("get", key, 0, "absent"),
            Err(_) => self.record("get", key, 0, &result),
        }
        result
    }
}

/// Totals of one kind of operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpTotals {
    pub count: u64,
    pub bytes: u64,
    pub conflicts: u64,
    pub errors: u64,
}

/// A stats file summed: per operation, for every key and for the keys under a prefix of interest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// By operation (`get`, `put`, `list`, `delete`).
    pub all: BTreeMap<String, OpTotals>,
    /// By operation, keys under the prefix given to [`StoreStats::read`] only.
    pub prefixed: BTreeMap<String, OpTotals>,
    /// Lines that could not be read (a torn last line of a killed process).
    pub unreadable: u64,
}

impl StoreStats {
    /// Sums the file; keys starting with `prefix` are also summed apart (e.g. `runs/`, the run documents). A
    /// missing file is no operations.
    pub fn read(file: &Path, prefix: &str) -> std::io::Result<Self> {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let mut stats = Self::default();
        for line in text.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let [op, key, bytes, outcome] = fields[..] else {
                stats.unreadable += 1;
                continue;
            };
            let Ok(bytes) = bytes.parse::<u64>() else {
                stats.unreadable += 1;
                continue;
            };
            let add = |t: &mut OpTotals| {
                t.count += 1;
                t.bytes += bytes;
                t.conflicts += u64::from(outcome == "conflict");
                t.errors += u64::from(outcome == "error");
            };
            add(stats.all.entry(op.to_string()).or_default());
            if key.starts_with(prefix) {
                add(stats.prefixed.entry(op.to_string()).or_default());
            }
        }
        Ok(stats)
    }

    /// The totals of an operation over every key (zero when there was none).
    pub fn op(&self, op: &str) -> OpTotals {
        self.all.get(op).copied().unwrap_or_default()
    }

    /// The totals of an operation over the keys under the prefix.
    pub fn prefixed_op(&self, op: &str) -> OpTotals {
        self.prefixed.get(op).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::FsStore;

    fn counting() -> (tempfile::TempDir, CountingStore, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("stats.tsv");
        let store = CountingStore::new(Arc::new(FsStore::new(dir.path().join("store"))), &file);
        (dir, store, file)
    }

    #[tokio::test]
    async fn every_operation_is_counted_with_its_bytes_and_a_lost_conditional_write_as_a_conflict()
    {
        let (_d, store, file) = counting();
        let v1 = store
            .put("runs/a.json", b"12345".to_vec(), Precondition::Absent)
            .await
            .unwrap();
        store
            .put("other", b"xy".to_vec(), Precondition::None)
            .await
            .unwrap();
        assert!(matches!(
            store
                .put("runs/a.json", b"1".to_vec(), Precondition::Absent)
                .await,
            Err(PortError::Conflict(_))
        ));
        store
            .put(
                "runs/a.json",
                b"1234567".to_vec(),
                Precondition::Version(v1),
            )
            .await
            .unwrap();
        assert_eq!(
            store.get("runs/a.json").await.unwrap().unwrap().bytes.len(),
            7
        );
        assert!(store.get("runs/missing.json").await.unwrap().is_none());
        assert_eq!(store.list("runs/").await.unwrap().len(), 1);
        store.delete("other").await.unwrap();

        let stats = StoreStats::read(&file, "runs/").unwrap();

        assert_eq!(
            stats.op("put"),
            OpTotals {
                count: 4,
                bytes: 5 + 2 + 1 + 7,
                conflicts: 1,
                errors: 0
            }
        );
        assert_eq!(
            stats.prefixed_op("put"),
            OpTotals {
                count: 3,
                bytes: 5 + 1 + 7,
                conflicts: 1,
                errors: 0
            }
        );
        assert_eq!(stats.prefixed_op("get").count, 2);
        assert_eq!(stats.prefixed_op("get").bytes, 7);
        assert_eq!(stats.op("list").bytes, 1, "a list counts the keys it found");
        assert_eq!(stats.op("delete").count, 1);
        assert_eq!(stats.unreadable, 0);
    }

    #[tokio::test]
    async fn appends_and_reads_are_forwarded_to_the_wrapped_store_and_counted_as_writes_and_reads()
    {
        let (_d, store, file) = counting();
        assert!(store
            .create_appendable("runs/j", b"first\n".to_vec())
            .await
            .unwrap());
        assert!(!store
            .create_appendable("runs/j", b"again\n".to_vec())
            .await
            .unwrap());
        assert_eq!(
            store.append("runs/j", b"second\n".to_vec()).await.unwrap(),
            Some(6)
        );
        assert_eq!(
            store.read_from("runs/j", 6).await.unwrap().unwrap(),
            b"second\n"
        );
        assert_eq!(store.read("runs/j").await.unwrap().unwrap().len(), 13);

        let stats = StoreStats::read(&file, "runs/").unwrap();

        assert_eq!(stats.prefixed_op("put").count, 3);
        assert_eq!(stats.prefixed_op("put").bytes, 6 + 6 + 7);
        assert_eq!(stats.prefixed_op("put").conflicts, 1);
        assert_eq!(stats.prefixed_op("get").bytes, 7 + 13);
    }

    #[tokio::test]
    async fn the_stats_file_holds_keys_and_sizes_but_never_the_bytes_stored() {
        let (_d, store, file) = counting();
        store
            .put(
                "key-vault-ish",
                b"hunter2-secret".to_vec(),
                Precondition::None,
            )
            .await
            .unwrap();
        store.get("key-vault-ish").await.unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn a_torn_line_is_counted_as_unreadable_and_a_missing_file_as_no_operations() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("stats.tsv");
        assert_eq!(
            StoreStats::read(&file, "runs/").unwrap(),
            StoreStats::default()
        );
        std::fs::write(&file, "get\truns/a\t10\tok\nput\truns/a\t1").unwrap();
        let stats = StoreStats::read(&file, "runs/").unwrap();
        assert_eq!(stats.op("get").bytes, 10);
        assert_eq!(stats.unreadable, 1);
    }
}
