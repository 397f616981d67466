//! The external tools a step runs: Terraform (required, never installed by us) and ansible-playbook (installed
//! into a private virtual environment on first use when it is not on PATH).

use std::path::{Path, PathBuf};
use std::process::Command;

/// ansible-core release line installed on first use; the seeds are written for it.
pub const ANSIBLE_CORE_REQUIREMENT: &str = "ansible-core>=2.19,<2.20";

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("terraform was not found on PATH: install Terraform 1.9 or later and put it on PATH, or set NIGHTSHIFT_TERRAFORM to its path")]
    TerraformMissing,
    #[error("ansible-playbook is not installed and installing ansible-core failed: {0}. Install python3 with venv and pip (Debian: apt-get install python3-venv python3-pip), or set NIGHTSHIFT_ANSIBLE_PLAYBOOK")]
    AnsibleInstall(String),
}

impl ToolError {
    /// Missing tools are configuration, not bad luck: another attempt will not find them.
    pub fn is_permanent(&self) -> bool {
        true
    }
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn terraform() -> Result<PathBuf, ToolError> {
    if let Some(p) = std::env::var_os("NIGHTSHIFT_TERRAFORM") {
        return Ok(PathBuf::from(p));
    }
    which("terraform").ok_or(ToolError::TerraformMissing)
}

/// Written last, so an install that died half-way is redone rather than used.
const COMPLETE_MARKER: &str = ".nightshift-complete";

fn venv_dir(tools_dir: &Path) -> PathBuf {
    tools_dir.join("ansible-venv")
}

/// ansible-playbook from NIGHTSHIFT_ANSIBLE_PLAYBOOK, PATH, or our private venv; `None` when none is there yet.
pub fn find_ansible_playbook(tools_dir: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NIGHTSHIFT_ANSIBLE_PLAYBOOK") {
        return Some(PathBuf::from(p));
    }
    let private = venv_dir(tools_dir).join("bin").join("ansible-playbook");
    let marker =
        std::fs::read_to_string(venv_dir(tools_dir).join(COMPLETE_MARKER)).unwrap_or_default();
    if private.is_file() && marker == ANSIBLE_CORE_REQUIREMENT {
        return Some(private);
    }
    which("ansible-playbook")
}

/// Finds ansible-playbook, installing ansible-core into `<tools_dir>/ansible-venv` on first use. `say` is told
/// before a (slow) install starts. Concurrent callers wait on a lock file and share one install.
pub fn ensure_ansible_playbook(tools_dir: &Path, say: &dyn Fn(&str)) -> Result<PathBuf, ToolError> {
    if let Some(p) = find_ansible_playbook(tools_dir) {
        return Ok(p);
    }
    std::fs::create_dir_all(tools_dir).map_err(|e| {
        ToolError::AnsibleInstall(format!("cannot create {}: {e}", tools_dir.display()))
    })?;
    let lock_path = tools_dir.join("ansible-install.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| ToolError::AnsibleInstall(e.to_string()))?;
    // SAFETY: flock on a file descriptor we own; released when `lock` is dropped.
    unsafe {
        use std::os::fd::AsRawFd;
        libc::flock(lock.as_raw_fd(), libc::LOCK_EX);
    }
    if let Some(p) = find_ansible_playbook(tools_dir) {
        return Ok(p);
    }
    install_ansible(tools_dir, Path::new("python3"), say)
}

/// Installs ansible-core into `<tools_dir>/ansible-venv` with the given Python; the caller holds the lock.
fn install_ansible(
    tools_dir: &Path,
    python: &Path,
    say: &dyn Fn(&str),
) -> Result<PathBuf, ToolError> {
    let venv = venv_dir(tools_dir);
    say(&format!("ansible-playbook not found: installing {ANSIBLE_CORE_REQUIREMENT} into {} (once; about a minute)", venv.display()));
    let _ = std::fs::remove_dir_all(&venv);
    let run = |cmd: &mut Command| -> Result<(), ToolError> {
        let out = cmd
            .output()
            .map_err(|e| ToolError::AnsibleInstall(format!("{cmd:?}: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(5).collect();
            Err(ToolError::AnsibleInstall(format!(
                "{cmd:?} failed: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )))
        }
    };
    run(Command::new(python).args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        ANSIBLE_CORE_REQUIREMENT,
    ]))?;
    std::fs::write(venv.join(COMPLETE_MARKER), ANSIBLE_CORE_REQUIREMENT)
        .map_err(|e| ToolError::AnsibleInstall(e.to_string()))?;
    say("ansible-core installed");
    Ok(venv.join("bin").join("ansible-playbook"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in for python3 whose `-m venv DIR` makes a venv whose pip "installs" an ansible-playbook script.
    fn fake_python(dir: &Path) -> PathBuf {
        let py = dir.join("python3");
        std::fs::write(
            &py,
            "#!/bin/sh\nset -e\n[ \"$1\" = -m ] && [ \"$2\" = venv ] || exit 9\nmkdir -p \"$3/bin\"\nprintf '#!/bin/sh\\necho \"$*\" >> \"$(dirname \"$0\")/pip.log\"\\nprintf \"#!/bin/sh\\\\nexit 0\\\\n\" > \"$(dirname \"$0\")/ansible-playbook\"\\nchmod +x \"$(dirname \"$0\")/ansible-playbook\"\\n' > \"$3/bin/pip\"\nchmod +x \"$3/bin/pip\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o755)).unwrap();
        py
    }

    #[test]
    fn a_missing_ansible_is_installed_into_a_private_venv_and_the_user_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let tools = dir.path().join("tools");
        std::fs::create_dir_all(&tools).unwrap();
        let said = std::sync::Mutex::new(Vec::new());
        let path = install_ansible(&tools, &fake_python(dir.path()), &|m| {
            said.lock().unwrap().push(m.to_string())
        })
        .unwrap();

        assert_eq!(path, tools.join("ansible-venv/bin/ansible-playbook"));
        assert!(path.is_file());
        let pip_log = std::fs::read_to_string(tools.join("ansible-venv/bin/pip.log")).unwrap();
        assert!(pip_log.contains(ANSIBLE_CORE_REQUIREMENT), "{pip_log}");
        let said = said.lock().unwrap();
        assert!(said[0].contains("installing ansible-core"), "{said:?}");
        // Complete: found next time without installing again (unless NIGHTSHIFT_ANSIBLE_PLAYBOOK overrides it).
        let marker =
            std::fs::read_to_string(tools.join("ansible-venv").join(COMPLETE_MARKER)).unwrap();
        assert_eq!(marker, ANSIBLE_CORE_REQUIREMENT);
    }

    #[test]
    fn a_failed_install_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let e =
            install_ansible(dir.path(), Path::new("/nonexistent/python3"), &|_| {}).unwrap_err();
        assert!(e.to_string().contains("python3-venv"), "{e}");
    }
}
