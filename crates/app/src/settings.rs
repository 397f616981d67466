//! Typed settings, read once from the environment (app settings on Azure, variables locally) with defaults.
//!
//! Every setting is listed in the README's settings table. Nothing here holds a secret value: secrets are Key Vault
//! names, resolved by the runner at run time.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Local,
    Azure,
}

impl Mode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Azure => "azure",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("setting {name}={value:?} is invalid: {why}")]
pub struct SettingsError {
    pub name: &'static str,
    pub value: String,
    pub why: String,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// The `nightshift-managed-by` tag value: a sweep touches only groups of its own instance.
    pub instance: String,
    pub state_dir: PathBuf,
    pub catalog_dir: PathBuf,
    /// Where stacks and playbooks named in the catalog are found.
    pub repo_root: PathBuf,
    pub sweep_cap: usize,
    pub sweep_dry_run: bool,
    /// The command a local job runs (`nightshift runner`).
    pub runner_command: Vec<String>,
    /// Delete a job once its result is recorded (container groups cost money; local job dirs keep logs).
    pub delete_finished_jobs: bool,
    pub watchdog_redispatch_secs: u64,
    pub watchdog_result_grace_secs: u64,
    /// Where nightshift installs the tools it needs (ansible-core).
    pub tools_dir: PathBuf,
}

fn default_tools_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".nightshift"));
    base.join("nightshift")
}

fn default_runner() -> Vec<String> {
    // The CLI binary sits next to the handler binary in every build and in the deployment package.
    let exe = std::env::current_exe().ok();
    let sibling = exe
        .as_ref()
        .and_then(|e| e.parent())
        .map(|d| d.join("nightshift"));
    match sibling {
        Some(p) if p.exists() => vec![p.display().to_string(), "runner".into()],
        _ => vec!["nightshift".into(), "runner".into()],
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mode = match get("NIGHTSHIFT_MODE").as_deref() {
            None | Some("local") => Mode::Local,
            Some("azure") => Mode::Azure,
            Some(other) => {
                return Err(SettingsError {
                    name: "NIGHTSHIFT_MODE",
                    value: other.into(),
                    why: "use local or azure".into(),
                })
            }
        };
        let num = |name: &'static str, default: u64| -> Result<u64, SettingsError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.trim().parse().map_err(|_| SettingsError {
                    name,
                    value: v,
                    why: "expected a whole number".into(),
                }),
            }
        };
        let flag = |name: &'static str, default: bool| -> Result<bool, SettingsError> {
            match get(name).as_deref() {
                None => Ok(default),
                Some("1" | "true" | "yes") => Ok(true),
                Some("0" | "false" | "no") => Ok(false),
                Some(v) => Err(SettingsError {
                    name,
                    value: v.into(),
                    why: "use true or false".into(),
                }),
            }
        };
        let instance = get("NIGHTSHIFT_INSTANCE").unwrap_or_else(|| "nightshift".into());
        if instance.is_empty()
            || instance.len() > 256
            || instance.contains(['<', '>', '%', '&', '\\', '?', '/'])
        {
            return Err(SettingsError {
                name: "NIGHTSHIFT_INSTANCE",
                value: instance,
                why: "a tag value: 1 to 256 characters, none of < > % & \\ ? /".into(),
            });
        }
        let runner_command = match get("NIGHTSHIFT_RUNNER") {
            Some(v) if !v.trim().is_empty() => v.split_whitespace().map(String::from).collect(),
            _ => default_runner(),
        };
        Ok(Settings {
            mode,
            instance,
            state_dir: PathBuf::from(
                get("NIGHTSHIFT_STATE_DIR").unwrap_or_else(|| ".nightshift".into()),
            ),
            catalog_dir: PathBuf::from(
                get("NIGHTSHIFT_CATALOG").unwrap_or_else(|| "catalog".into()),
            ),
            repo_root: PathBuf::from(get("NIGHTSHIFT_REPO_ROOT").unwrap_or_else(|| ".".into())),
            sweep_cap: num("NIGHTSHIFT_SWEEP_CAP", 20)? as usize,
            sweep_dry_run: flag("NIGHTSHIFT_SWEEP_DRY_RUN", false)?,
            runner_command,
            delete_finished_jobs: flag("NIGHTSHIFT_DELETE_FINISHED_JOBS", mode == Mode::Azure)?,
            watchdog_redispatch_secs: num("NIGHTSHIFT_WATCHDOG_REDISPATCH_SECS", 60)?,
            watchdog_result_grace_secs: num("NIGHTSHIFT_WATCHDOG_RESULT_GRACE_SECS", 30)?,
            tools_dir: get("NIGHTSHIFT_TOOLS_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(default_tools_dir),
        })
    }

    /// Makes relative paths absolute, so jobs started in other directories see the same files.
    pub fn absolutize(mut self) -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        for p in [
            &mut self.state_dir,
            &mut self.catalog_dir,
            &mut self.repo_root,
            &mut self.tools_dir,
        ] {
            if p.is_relative() {
                *p = cwd.join(&*p);
            }
        }
        self
    }

    pub fn store_dir(&self) -> PathBuf {
        self.state_dir.join("store")
    }
    pub fn queues_dir(&self) -> PathBuf {
        self.state_dir.join("queues")
    }
    pub fn jobs_dir(&self) -> PathBuf {
        self.state_dir.join("jobs")
    }
    pub fn cloud_dir(&self) -> PathBuf {
        self.state_dir.join("cloud")
    }
    pub fn key_vault_dir(&self) -> PathBuf {
        self.state_dir.join("key-vault")
    }
    pub fn terraform_dir(&self) -> PathBuf {
        self.state_dir.join("terraform")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// The variables a job needs to rebuild these settings in its own process.
    pub fn job_env(&self) -> Vec<(String, String)> {
        let p = |p: &Path| p.display().to_string();
        vec![
            ("NIGHTSHIFT_MODE".into(), self.mode.as_str().into()),
            ("NIGHTSHIFT_INSTANCE".into(), self.instance.clone()),
            ("NIGHTSHIFT_STATE_DIR".into(), p(&self.state_dir)),
            ("NIGHTSHIFT_CATALOG".into(), p(&self.catalog_dir)),
            ("NIGHTSHIFT_REPO_ROOT".into(), p(&self.repo_root)),
            ("NIGHTSHIFT_TOOLS_DIR".into(), p(&self.tools_dir)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_apply_and_bad_values_name_the_setting() {
        let s = Settings::from_lookup(|_| None).unwrap();
        assert_eq!(s.mode, Mode::Local);
        assert_eq!(s.instance, "nightshift");
        assert_eq!(s.sweep_cap, 20);
        let env: HashMap<&str, &str> = [("NIGHTSHIFT_SWEEP_CAP", "ten")].into();
        let e = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(e.to_string().contains("NIGHTSHIFT_SWEEP_CAP"), "{e}");
        let env: HashMap<&str, &str> = [("NIGHTSHIFT_MODE", "cloud")].into();
        assert!(Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).is_err());
    }
}
