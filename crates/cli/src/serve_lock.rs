//! One local host per state directory. A host holds an exclusive `flock` on `<state>/serve.lock` for as long as
//! it runs (the kernel drops it when the process dies, even by SIGKILL, so a stale file never blocks) and
//! publishes its process id and HTTP port in `<state>/serve.json`. `nightshift up` and `--wait` join a running
//! host through them instead of starting a second one that would consume the same queues.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// What a running host publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeInfo {
    pub pid: u32,
    /// Its HTTP port on 127.0.0.1 (api/status, admin), if it serves HTTP.
    pub port: Option<u16>,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// The lock, held: released (and `serve.json` removed) on drop.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
    info: PathBuf,
}

fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("serve.lock")
}

fn info_path(state_dir: &Path) -> PathBuf {
    state_dir.join("serve.json")
}

fn try_flock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on a descriptor we own; the lock goes when the file is closed.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

fn open(state_dir: &Path) -> io::Result<File> {
    std::fs::create_dir_all(state_dir)?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(state_dir))
}

impl ServeLock {
    /// Takes the lock, or None when another host holds it.
    pub fn try_acquire(state_dir: &Path) -> io::Result<Option<Self>> {
        let file = open(state_dir)?;
        if !try_flock(&file)? {
            return Ok(None);
        }
        Ok(Some(Self {
            _file: file,
            info: info_path(state_dir),
        }))
    }

    /// Says where this host answers.
    pub fn publish(&self, info: &ServeInfo) -> io::Result<()> {
        let tmp = self.info.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(info).map_err(io::Error::other)?,
        )?;
        std::fs::rename(tmp, &self.info)
    }
}

impl Drop for ServeLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.info);
    }
}

/// The host running on this state directory, if one does. Its `serve.json` may be missing for a moment after it
/// took the lock: then pid 0 and no port.
pub fn running(state_dir: &Path) -> Option<ServeInfo> {
    if !lock_path(state_dir).exists() {
        return None;
    }
    let file = open(state_dir).ok()?;
    if try_flock(&file).unwrap_or(false) {
        return None; // free: dropping the file releases it
    }
    Some(
        std::fs::read(info_path(state_dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(ServeInfo {
                pid: 0,
                port: None,
                started_at: chrono::Utc::now(),
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_host_cannot_take_the_lock_and_sees_the_first_ones_port_until_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(running(dir.path()), None);
        let lock = ServeLock::try_acquire(dir.path()).unwrap().unwrap();
        let info = ServeInfo {
            pid: 42,
            port: Some(7071),
            started_at: chrono::Utc::now(),
        };
        lock.publish(&info).unwrap();
        assert!(ServeLock::try_acquire(dir.path()).unwrap().is_none());
        assert_eq!(running(dir.path()), Some(info));
        drop(lock);
        assert_eq!(running(dir.path()), None);
        assert!(ServeLock::try_acquire(dir.path()).unwrap().is_some());
    }
}
