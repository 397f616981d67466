//! `FsStore`: the `Store` port on a directory, for journals, run documents, logs and outputs.
//!
//! A key `a/b/c.json` is the file `<root>/a/b/c.json`. A version is the SHA-256 of the content (an ETag). The
//! handler and several runner processes write at once, so a conditional write takes an exclusive `flock` on the
//! key's lock file (under `<root>/.locks/`), compares, writes a temporary file and renames it: atomic across
//! processes, and readers never see a partial file. Names starting with `.` are internal and never keys.

use crate::fsutil::{blocking, io_error, sha256_hex, write_atomic, FileLock};
use async_trait::async_trait;
use nightshift_core::ports::{PortError, Precondition, Store, Versioned};
use std::io;
use std::path::{Path, PathBuf};

/// A `Store` on a local directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
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
            .join(format!("{}.lock", sha256_hex(key.as_bytes())))
    }
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
    async fn a_written_key_reads_back_with_its_version() {
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
}
