//! `FsStore`: the `Store` port on a directory, for journals, run documents, logs and outputs.
//!
//! A key `a/b/c.json` is the file `<root>/a/b/c.json`. A version is the SHA-256 of the content (an ETag). The
//! handler and several runner processes write at once, so a conditional write takes an exclusive `flock` on the
//! key's lock file, compares, writes a temporary file and renames it: atomic across processes, and readers never
//! see a partial file. Names starting with `.` are internal and never keys.
//!
//! Lock files are stripes: `<root>/.locks/stripe-<nn>.lock`, one of [`LOCK_STRIPES`] chosen by the key's hash,
//! created once and kept. A lock file per key (as before) cost a file creation for every new key, several per step
//! transition; on a file system that scans recently freed inodes at each creation (ext4 without a journal) that
//! was the largest part of a transition's CPU. Two keys of one stripe only wait for each other during one
//! operation; no operation holds two keys' locks.

use crate::fsutil::{blocking, io_error, sha256_hex, write_atomic, write_new, FileLock};
use async_trait::async_trait;
use nightshift_core::ports::{check_record, PortError, Precondition, Store, Versioned};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A `Store` on a local directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// Runs `op` on the key's file under the key's exclusive lock, off the async threads; `what` names the
    /// operation in its error (`appending to runs/<id>/journal.jsonl: ...`).
    async fn with_record_lock<T: Send + 'static>(
        &self,
        key: &str,
        what: &'static str,
        op: impl FnOnce(&Path) -> io::Result<T> + Send + 'static,
    ) -> Result<T, PortError> {
        let path = self.path_of(key)?;
        let lock = self.lock_path(key);
        let key = key.to_string();
        blocking(move || {
            let _guard =
                FileLock::exclusive(&lock).map_err(|e| io_error(format!("locking {key}"), e))?;
            op(&path).map_err(|e| io_error(format!("{what} {key}"), e))
        })
        .await
    }

    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, PortError> {
        check_key(key)?;
        Ok(self.root.join(key))
    }

    fn lock_path(&self, key: &str) -> PathBuf {
        self.root
            .join(".locks")
            .join(format!("stripe-{:02x}.lock", lock_stripe(key)))
    }
}

/// How many lock files a store uses at most.
pub const LOCK_STRIPES: usize = 256;

/// The stripe of a key's lock: the first byte of its SHA-256.
fn lock_stripe(key: &str) -> u8 {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes())[0]
}

/// Keys are relative paths of plain segments: no `..`, `.`, empty or dot-led segments, no absolute paths.
fn check_key(key: &str) -> Result<(), PortError> {
    let bad = key.is_empty()
        || key.starts_with('/')
        || key.contains(['\\', '\0'])
        || key.split('/').any(|s| s.is_empty() || s.starts_with('.'));
    if bad {
        return Err(PortError::Permanent(format!(
            "store key {key:?} is invalid: use a relative path such as runs/<id>/run.json \
             (no '..', no absolute path, no empty or dot-led segment)"
        )));
    }
    Ok(())
}

fn read_versioned(path: &Path) -> Result<Option<Versioned>, PortError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let version = sha256_hex(&bytes);
            Ok(Some(Versioned { bytes, version }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(format!("reading {}", path.display()), e)),
    }
}

/// Appends one line to an existing file, the caller holding the key's lock: a torn last line (a writer that died
/// mid-write) is cut off first, so it never fuses with the new record. `None` when the file does not exist.
fn append_line(path: &Path, record: &[u8]) -> io::Result<Option<u64>> {
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let end = complete_end(&mut file, len)?;
    if end < len {
        file.set_len(end)?;
    }
    // One write of the whole line with O_APPEND: it lands at the end, after every earlier record.
    file.write_all(record)?;
    Ok(Some(end))
}

/// Where the complete lines of a file of `len` bytes end: `len` when its last byte is a newline, else just after
/// the last newline (0 if none). Reads backwards in blocks, so an intact file costs one byte.
fn complete_end(file: &mut std::fs::File, len: u64) -> io::Result<u64> {
    let mut last = [0u8; 1];
    if len == 0 {
        return Ok(0);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(len);
    }
    let mut block = vec![0u8; 4096];
    let mut end = len - 1;
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block[..n])?;
        if let Some(i) = block[..n].iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

fn collect_keys(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_keys(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

#[async_trait]
impl Store for FsStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError> {
        let path = self.path_of(key)?;
        blocking(move || read_versioned(&path)).await
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        let path = self.path_of(key)?;
        blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(format!("reading {}", path.display()), e)),
        })
        .await
    }

    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        precondition: Precondition,
    ) -> Result<String, PortError> {
        let path = self.path_of(key)?;
        let lock = self.lock_path(key);
        let key = key.to_string();
        blocking(move || {
            let _guard =
                FileLock::exclusive(&lock).map_err(|e| io_error(format!("locking {key}"), e))?;
            let current = read_versioned(&path)?;
            match (&precondition, &current) {
                (Precondition::Absent, Some(_)) => {
                    return Err(PortError::Conflict(format!("{key} exists already")))
                }
                (Precondition::Version(v), Some(cur)) if &cur.version != v => {
                    return Err(PortError::Conflict(format!(
                        "{key} changed since version {v}"
                    )))
                }
                (Precondition::Version(v), None) => {
                    return Err(PortError::Conflict(format!(
                        "{key} is gone (expected version {v})"
                    )))
                }
                _ => {}
            }
            write_atomic(&path, &bytes).map_err(|e| io_error(format!("writing {key}"), e))?;
            Ok(sha256_hex(&bytes))
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        blocking(move || {
            // Walk only the deepest directory the prefix names in full.
            let start = match prefix.rfind('/') {
                Some(i) if check_key(&prefix[..i]).is_ok() => root.join(&prefix[..i]),
                _ => root.clone(),
            };
            let mut keys = Vec::new();
            collect_keys(&root, &start, &mut keys)
                .map_err(|e| io_error(format!("listing {prefix:?}"), e))?;
            keys.retain(|k| k.starts_with(&prefix));
            keys.sort();
            Ok(keys)
        })
        .await
    }

    async fn create_appendable(&self, key: &str, first: Vec<u8>) -> Result<bool, PortError> {
        check_record(key, &first)?;
        self.with_record_lock(key, "creating", move |path| write_new(path, &first))
            .await
    }

    async fn append(&self, key: &str, record: Vec<u8>) -> Result<Option<u64>, PortError> {
        check_record(key, &record)?;
        self.with_record_lock(key, "appending to", move |path| append_line(path, &record))
            .await
    }

    async fn read_from(&self, key: &str, offset: u64) -> Result<Option<Vec<u8>>, PortError> {
        let path = self.path_of(key)?;
        let key = key.to_string();
        blocking(move || {
            let mut file = match std::fs::File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_error(format!("reading {key}"), e)),
            };
            let mut bytes = Vec::new();
            file.seek(SeekFrom::Start(offset))
                .and_then(|_| file.read_to_end(&mut bytes))
                .map_err(|e| io_error(format!("reading {key}"), e))?;
            Ok(Some(bytes))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let path = self.path_of(key)?;
        let lock = self.lock_path(key);
        let key = key.to_string();
        blocking(move || {
            let _guard =
                FileLock::exclusive(&lock).map_err(|e| io_error(format!("locking {key}"), e))?;
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_error(format!("deleting {key}"), e)),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn store() -> (tempfile::TempDir, FsStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = FsStore::new(dir.path().join("store"));
        (dir, store)
    }

    #[tokio::test]
    async fn a_written_key_reads_back_with_its_version_and_without_one() {
        let (_d, s) = store();
        let v = s
            .put("runs/r1/run.json", b"{}".to_vec(), Precondition::None)
            .await
            .unwrap();
        let got = s.get("runs/r1/run.json").await.unwrap().unwrap();
        assert_eq!(got.bytes, b"{}");
        assert_eq!(got.version, v);
        assert_eq!(v, sha256_hex(b"{}"));
        assert!(s.get("runs/r1/other.json").await.unwrap().is_none());
        assert_eq!(s.read("runs/r1/run.json").await.unwrap().unwrap(), b"{}");
        assert!(s.read("runs/r1/other.json").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn writing_many_new_keys_creates_no_lock_file_per_key() {
        let (_d, s) = store();
        for i in 0..(LOCK_STRIPES * 3) {
            let key = format!("job-slots/held/run_step_{i}");
            s.put(&key, b"1".to_vec(), Precondition::Absent)
                .await
                .unwrap();
            s.append(&format!("runs/r{i}/journal.jsonl"), b"{}\n".to_vec())
                .await
                .unwrap();
            s.delete(&key).await.unwrap();
        }
        let locks = std::fs::read_dir(s.root().join(".locks")).unwrap().count();
        assert!(
            locks <= LOCK_STRIPES,
            "{locks} lock files for {} keys",
            LOCK_STRIPES * 6
        );
    }

    #[tokio::test]
    async fn keys_that_escape_the_root_are_rejected() {
        let (_d, s) = store();
        for key in [
            "../x",
            "/etc/passwd",
            "a/../b",
            "a//b",
            "",
            ".locks/x",
            "a/./b",
        ] {
            let err = s.put(key, vec![], Precondition::None).await.unwrap_err();
            assert!(matches!(err, PortError::Permanent(_)), "{key}: {err}");
        }
    }

    #[tokio::test]
    async fn create_only_conflicts_when_the_key_exists() {
        let (_d, s) = store();
        s.put("k.json", b"1".to_vec(), Precondition::Absent)
            .await
            .unwrap();
        let err = s
            .put("k.json", b"2".to_vec(), Precondition::Absent)
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Conflict(_)));
        assert_eq!(s.get("k.json").await.unwrap().unwrap().bytes, b"1");
    }

    #[tokio::test]
    async fn a_stale_version_conflicts_and_a_current_one_writes() {
        let (_d, s) = store();
        let v1 = s
            .put("k.json", b"1".to_vec(), Precondition::None)
            .await
            .unwrap();
        let v2 = s
            .put("k.json", b"2".to_vec(), Precondition::Version(v1.clone()))
            .await
            .unwrap();
        let err = s
            .put("k.json", b"3".to_vec(), Precondition::Version(v1))
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Conflict(_)));
        s.put("k.json", b"3".to_vec(), Precondition::Version(v2))
            .await
            .unwrap();
        let err = s
            .put(
                "gone.json",
                b"3".to_vec(),
                Precondition::Version("x".into()),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, PortError::Conflict(_)));
    }

    #[tokio::test]
    async fn listing_returns_sorted_keys_under_a_prefix_without_internal_files() {
        let (_d, s) = store();
        for k in [
            "runs/b/run.json",
            "runs/a/run.json",
            "runs/a/log.txt",
            "other/x.json",
        ] {
            s.put(k, vec![], Precondition::None).await.unwrap();
        }
        assert_eq!(
            s.list("runs/").await.unwrap(),
            vec!["runs/a/log.txt", "runs/a/run.json", "runs/b/run.json"]
        );
        assert_eq!(s.list("runs/a/r").await.unwrap(), vec!["runs/a/run.json"]);
        assert_eq!(s.list("").await.unwrap().len(), 4);
        assert!(s.list("nothing/").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn deleting_a_missing_key_is_fine() {
        let (_d, s) = store();
        s.put("k.json", vec![1], Precondition::None).await.unwrap();
        s.delete("k.json").await.unwrap();
        s.delete("k.json").await.unwrap();
        assert!(s.get("k.json").await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_read_modify_write_loops_lose_no_update() {
        let (_d, s) = store();
        let s = Arc::new(s);
        s.put("counter", b"0".to_vec(), Precondition::Absent)
            .await
            .unwrap();
        let (tasks, increments) = (8, 25);
        let mut handles = Vec::new();
        for _ in 0..tasks {
            let s = s.clone();
            handles.push(tokio::spawn(async move {
                for _ in 0..increments {
                    loop {
                        let cur = s.get("counter").await.unwrap().unwrap();
                        let n: u64 = String::from_utf8(cur.bytes).unwrap().parse().unwrap();
                        let next = (n + 1).to_string().into_bytes();
                        match s
                            .put("counter", next, Precondition::Version(cur.version))
                            .await
                        {
                            Ok(_) => break,
                            Err(PortError::Conflict(_)) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let last = s.get("counter").await.unwrap().unwrap().bytes;
        assert_eq!(
            String::from_utf8(last).unwrap(),
            (tasks * increments).to_string()
        );
    }

    #[tokio::test]
    async fn appends_land_at_the_end_and_say_where_and_an_append_never_creates() {
        let (_d, s) = store();
        assert_eq!(s.append("j.jsonl", b"a\n".to_vec()).await.unwrap(), None);
        assert!(s
            .create_appendable("j.jsonl", b"first\n".to_vec())
            .await
            .unwrap());
        assert!(!s
            .create_appendable("j.jsonl", b"other\n".to_vec())
            .await
            .unwrap());

        let second = s.append("j.jsonl", b"two\n".to_vec()).await.unwrap();
        let third = s.append("j.jsonl", b"three\n".to_vec()).await.unwrap();

        assert_eq!((second, third), (Some(6), Some(10)));
        let all = s.read_from("j.jsonl", 0).await.unwrap().unwrap();
        assert_eq!(all, b"first\ntwo\nthree\n");
        assert_eq!(
            s.read_from("j.jsonl", 10).await.unwrap().unwrap(),
            b"three\n"
        );
        assert!(s
            .read_from("j.jsonl", 99)
            .await
            .unwrap()
            .unwrap()
            .is_empty());
        assert_eq!(s.read_from("missing", 0).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_record_that_is_not_one_line_is_refused() {
        let (_d, s) = store();
        s.create_appendable("j.jsonl", b"first\n".to_vec())
            .await
            .unwrap();
        for bad in [&b"no newline"[..], b"two\nlines\n", b""] {
            let err = s.append("j.jsonl", bad.to_vec()).await.unwrap_err();
            assert!(matches!(err, PortError::Permanent(_)), "{err}");
        }
    }

    #[tokio::test]
    async fn a_torn_last_record_is_cut_off_before_the_next_append_and_nothing_else_is_lost() {
        let (_d, s) = store();
        s.create_appendable("runs/r/journal.jsonl", b"one\n".to_vec())
            .await
            .unwrap();
        s.append("runs/r/journal.jsonl", b"two\n".to_vec())
            .await
            .unwrap();
        // A writer died mid-record: half a line, no newline.
        let path = s.root().join("runs/r/journal.jsonl");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"half\":").unwrap();
        drop(f);

        let at = s
            .append("runs/r/journal.jsonl", b"three\n".to_vec())
            .await
            .unwrap();

        assert_eq!(at, Some(8));
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\nthree\n");
    }

    #[tokio::test]
    async fn a_journal_torn_inside_its_first_record_restarts_empty() {
        let (_d, s) = store();
        let path = s.root().join("j.jsonl");
        std::fs::create_dir_all(s.root()).unwrap();
        std::fs::write(&path, vec![b'x'; 10_000]).unwrap();

        let at = s.append("j.jsonl", b"next\n".to_vec()).await.unwrap();

        assert_eq!(at, Some(0));
        assert_eq!(std::fs::read(&path).unwrap(), b"next\n");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_appends_all_land_once_at_distinct_offsets() {
        let (_d, s) = store();
        let s = Arc::new(s);
        s.create_appendable("j.jsonl", b"base\n".to_vec())
            .await
            .unwrap();
        let handles: Vec<_> = (0..64)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    let line = format!("record-{i:02}\n").into_bytes();
                    s.append("j.jsonl", line).await.unwrap().unwrap()
                })
            })
            .collect();
        let mut offsets = Vec::new();
        for h in handles {
            offsets.push(h.await.unwrap());
        }

        let all = s.read_from("j.jsonl", 0).await.unwrap().unwrap();
        let text = String::from_utf8(all).unwrap();
        let mut lines: Vec<&str> = text.lines().skip(1).collect();
        lines.sort();
        let expected: Vec<String> = (0..64).map(|i| format!("record-{i:02}")).collect();
        assert_eq!(lines, expected);
        offsets.sort();
        offsets.dedup();
        assert_eq!(offsets.len(), 64);
        for at in offsets {
            assert!(text[at as usize..].starts_with("record-"), "{at}");
        }
    }
}
