//! Typed settings, read once from the environment (app settings on Azure, variables locally) with defaults.
//!
//! Every setting is listed in docs/settings.md. Nothing here holds a secret value in the clear: secrets are Key
//! Vault names resolved at run time, and the few development credentials the Azure adapters accept
//! (`NIGHTSHIFT_ARM_TOKEN`, `NIGHTSHIFT_STORAGE_KEY`) are wrapped so `Debug` prints `***`.

use nightshift_azure::{AzureConfig, ConfigError, Need};
use nightshift_core::names::MAX_DURATION_SECS;
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

/// `NIGHTSHIFT_MAX_JOBS` unless set: as many jobs as the Functions host runs `step-dispatch` invocations at once
/// (host.json `maxConcurrentCalls`), far under Azure Container Instances' default quota of container groups per
/// region, and few enough that a burst (100 pull requests released at once) does not drown a small machine's cores
/// in job processes while the orchestrator's own transitions wait for them.
pub const DEFAULT_MAX_JOBS: u32 = 16;
/// The largest `NIGHTSHIFT_MAX_JOBS`: one store key per slot.
pub const MAX_MAX_JOBS: u64 = 10_000;

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
    /// `NIGHTSHIFT_RETENTION`: finished runs older than this lose their documents to the sweeper's pass (their
    /// digests stay for status and metrics; an environment's last run always stays).
    pub retention: nightshift_core::Ttl,
    /// The most jobs running at once across all runs (`NIGHTSHIFT_MAX_JOBS`, see [`crate::slots`]).
    pub max_jobs: u32,
    /// Where nightshift installs the tools it needs (ansible-core).
    pub tools_dir: PathBuf,
    /// The Azure adapters' settings (`NIGHTSHIFT_MODE=azure` only; see the `nightshift-azure` crate).
    pub azure: Option<AzureConfig>,
    /// How `terraform` authenticates and keeps its state in Azure mode.
    pub terraform: TerraformSettings,
    /// Webhooks and their formats, links, chat actions, GitHub deployments (secret names, never values).
    pub notify: crate::notify_settings::NotifySettings,
}

/// The azurerm backend and provider settings of the runner's `terraform` (Azure mode). The state of one layer is
/// `<product>/<environment>/<layer>.tfstate` in `state_container`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TerraformSettings {
    /// `NIGHTSHIFT_TFSTATE_STORAGE_ACCOUNT`; default `NIGHTSHIFT_STORAGE_ACCOUNT`.
    pub state_storage_account: Option<String>,
    /// `NIGHTSHIFT_TFSTATE_CONTAINER`; default `tfstate`.
    pub state_container: String,
    /// `NIGHTSHIFT_TFSTATE_RESOURCE_GROUP`: only needed by backends that look the account up; Entra auth does not.
    pub state_resource_group: Option<String>,
    /// `NIGHTSHIFT_TERRAFORM_USE_MSI` -> `ARM_USE_MSI`; default true in Azure mode.
    pub use_msi: bool,
    /// `NIGHTSHIFT_TERRAFORM_CLIENT_ID` -> `ARM_CLIENT_ID`; default `AZURE_CLIENT_ID` (the jobs identity in ACI).
    pub client_id: Option<String>,
    /// `NIGHTSHIFT_TERRAFORM_SUBSCRIPTION_ID` -> `ARM_SUBSCRIPTION_ID`; default `NIGHTSHIFT_SUBSCRIPTION_ID`.
    pub subscription_id: Option<String>,
}

impl TerraformSettings {
    /// `-backend-config` arguments of `terraform init` for one layer's state.
    pub fn backend_config(&self, product: &str, environment: &str, layer: &str) -> Vec<String> {
        let mut b = vec![format!(
            "-backend-config=key={product}/{environment}/{layer}.tfstate"
        )];
        if let Some(a) = &self.state_storage_account {
            b.push(format!("-backend-config=storage_account_name={a}"));
        }
        b.push(format!(
            "-backend-config=container_name={}",
            self.state_container
        ));
        if let Some(g) = &self.state_resource_group {
            b.push(format!("-backend-config=resource_group_name={g}"));
        }
        b.push("-backend-config=use_azuread_auth=true".into());
        if self.use_msi {
            b.push("-backend-config=use_msi=true".into());
        }
        b
    }

    /// The azurerm provider's (and backend's) `ARM_*` variables, and `AZURE_*` for azure.azcollection.
    pub fn provider_env(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if self.use_msi {
            env.push(("ARM_USE_MSI".to_string(), "true".to_string()));
        }
        if let Some(c) = &self.client_id {
            env.push(("ARM_CLIENT_ID".into(), c.clone()));
            env.push(("AZURE_CLIENT_ID".into(), c.clone()));
        }
        if let Some(sub) = &self.subscription_id {
            env.push(("ARM_SUBSCRIPTION_ID".into(), sub.clone()));
            env.push(("AZURE_SUBSCRIPTION_ID".into(), sub.clone()));
        }
        env
    }
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
    /// Whether local jobs run nightshift's own runner (`<...>/nightshift runner`), which records its exit code itself.
    pub fn runner_is_nightshift(&self) -> bool {
        match self.runner_command.as_slice() {
            [program, arg] => {
                arg == "runner"
                    && std::path::Path::new(program)
                        .file_name()
                        .is_some_and(|f| f == "nightshift")
            }
            _ => false,
        }
    }

    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The settings a command needs in Azure mode (`needs`), from the environment.
    pub fn from_env_for(needs: &[Need]) -> Result<Self, SettingsError> {
        Self::from_lookup_for(|k| std::env::var(k).ok(), needs)
    }

    /// Reads settings through `lookup` (tests pass a map). An empty value counts as unset, as in the Azure portal.
    /// In Azure mode every Azure setting is required (the handler, the runner).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        Self::from_lookup_for(lookup, Need::ALL)
    }

    /// As [`Settings::from_lookup`], requiring in Azure mode only the Azure settings of `needs`.
    pub fn from_lookup_for(
        lookup: impl Fn(&str) -> Option<String>,
        needs: &[Need],
    ) -> Result<Self, SettingsError> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
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
        // A number of seconds: bounded like every duration (see `names::MAX_DURATION_SECS`), so the watchdog's
        // clock arithmetic cannot overflow.
        let secs = |name: &'static str, default: u64| -> Result<u64, SettingsError> {
            let n = num(name, default)?;
            if n > MAX_DURATION_SECS {
                return Err(SettingsError {
                    name,
                    value: n.to_string(),
                    why: format!("at most {MAX_DURATION_SECS} seconds (10 years)"),
                });
            }
            Ok(n)
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
        let opt = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let azure = match mode {
            Mode::Local => None,
            Mode::Azure => Some(
                AzureConfig::from_lookup_for(get, needs).map_err(|e| match e {
                    ConfigError::Missing(name) => SettingsError {
                        name,
                        value: String::new(),
                        why: "required when NIGHTSHIFT_MODE=azure (see docs/settings.md)".into(),
                    },
                    ConfigError::Invalid { name, why } => SettingsError {
                        name,
                        value: String::new(),
                        why,
                    },
                })?,
            ),
        };
        let terraform = TerraformSettings {
            state_storage_account: opt("NIGHTSHIFT_TFSTATE_STORAGE_ACCOUNT")
                .or_else(|| azure.as_ref().map(|a| a.storage_account.clone())),
            state_container: opt("NIGHTSHIFT_TFSTATE_CONTAINER")
                .unwrap_or_else(|| "tfstate".into()),
            state_resource_group: opt("NIGHTSHIFT_TFSTATE_RESOURCE_GROUP"),
            use_msi: flag("NIGHTSHIFT_TERRAFORM_USE_MSI", mode == Mode::Azure)?,
            client_id: opt("NIGHTSHIFT_TERRAFORM_CLIENT_ID").or_else(|| opt("AZURE_CLIENT_ID")),
            subscription_id: opt("NIGHTSHIFT_TERRAFORM_SUBSCRIPTION_ID")
                .or_else(|| azure.as_ref().map(|a| a.subscription_id.clone())),
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
            watchdog_redispatch_secs: secs("NIGHTSHIFT_WATCHDOG_REDISPATCH_SECS", 60)?,
            watchdog_result_grace_secs: secs("NIGHTSHIFT_WATCHDOG_RESULT_GRACE_SECS", 30)?,
            retention: match get("NIGHTSHIFT_RETENTION") {
                None => nightshift_core::Ttl::parse("90d").expect("a valid default"),
                Some(v) => nightshift_core::Ttl::parse(v.trim()).map_err(|e| SettingsError {
                    name: "NIGHTSHIFT_RETENTION",
                    value: v.clone(),
                    why: format!("{}: a duration such as 90d, 12w or 36h", e.why),
                })?,
            },
            max_jobs: match num("NIGHTSHIFT_MAX_JOBS", DEFAULT_MAX_JOBS.into())? {
                n @ 1..=MAX_MAX_JOBS => n as u32,
                n => {
                    return Err(SettingsError {
                        name: "NIGHTSHIFT_MAX_JOBS",
                        value: n.to_string(),
                        why: format!("between 1 and {MAX_MAX_JOBS} jobs at once"),
                    })
                }
            },
            tools_dir: get("NIGHTSHIFT_TOOLS_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(default_tools_dir),
            azure,
            terraform,
            notify: crate::notify_settings::NotifySettings::from_lookup(opt)?,
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

    /// The variables a job needs to rebuild these settings in its own process. A local job shares this machine's
    /// paths; a container gets the adapters' targets and the Terraform settings instead (its paths are the
    /// image's). Never a secret value.
    pub fn job_env(&self) -> Vec<(String, String)> {
        let p = |p: &Path| p.display().to_string();
        let mut env: Vec<(String, String)> = vec![
            ("NIGHTSHIFT_MODE".into(), self.mode.as_str().into()),
            ("NIGHTSHIFT_INSTANCE".into(), self.instance.clone()),
        ];
        match &self.azure {
            None => env.extend([
                ("NIGHTSHIFT_STATE_DIR".into(), p(&self.state_dir)),
                ("NIGHTSHIFT_CATALOG".into(), p(&self.catalog_dir)),
                ("NIGHTSHIFT_REPO_ROOT".into(), p(&self.repo_root)),
                ("NIGHTSHIFT_TOOLS_DIR".into(), p(&self.tools_dir)),
            ]),
            Some(azure) => {
                env.extend(azure.job_env());
                let t = &self.terraform;
                env.push((
                    "NIGHTSHIFT_TFSTATE_CONTAINER".into(),
                    t.state_container.clone(),
                ));
                env.push(("NIGHTSHIFT_TERRAFORM_USE_MSI".into(), t.use_msi.to_string()));
                let optional = [
                    (
                        "NIGHTSHIFT_TFSTATE_STORAGE_ACCOUNT",
                        &t.state_storage_account,
                    ),
                    ("NIGHTSHIFT_TFSTATE_RESOURCE_GROUP", &t.state_resource_group),
                    ("NIGHTSHIFT_TERRAFORM_SUBSCRIPTION_ID", &t.subscription_id),
                ];
                for (k, v) in optional {
                    if let Some(v) = v {
                        env.push((k.into(), v.clone()));
                    }
                }
                // NIGHTSHIFT_TERRAFORM_CLIENT_ID is not passed on: in the container it defaults to AZURE_CLIENT_ID,
                // the jobs identity, not the orchestrator's.
            }
        }
        env
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
        assert_eq!(s.retention.to_string(), "90d");
        let env: HashMap<&str, &str> = [("NIGHTSHIFT_SWEEP_CAP", "ten")].into();
        let e = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(e.to_string().contains("NIGHTSHIFT_SWEEP_CAP"), "{e}");
        let env: HashMap<&str, &str> = [("NIGHTSHIFT_MODE", "cloud")].into();
        assert!(Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).is_err());
    }

    #[test]
    fn only_nightshifts_own_runner_is_started_without_the_wrapper_shell() {
        let runner = |v: &str| {
            let env: HashMap<&str, &str> = [("NIGHTSHIFT_RUNNER", v)].into();
            Settings::from_lookup(|k| env.get(k).map(|v| v.to_string()))
                .unwrap()
                .runner_is_nightshift()
        };
        assert!(runner("/opt/nightshift/bin/nightshift runner"));
        assert!(runner("nightshift runner"));
        assert!(!runner("true"));
        assert!(!runner("/bin/sh -c nightshift runner"));
        assert!(!runner("/usr/bin/my-nightshift runner"));
        assert!(!runner("nightshift runner --verbose"));
    }

    #[test]
    fn watchdog_seconds_past_ten_years_are_refused_naming_the_setting() {
        // Issue 8, defect 2: any duration is bounded, or the watchdog's clock arithmetic overflows.
        let env: HashMap<&str, &str> =
            [("NIGHTSHIFT_WATCHDOG_REDISPATCH_SECS", "10000000000000000")].into();
        let e = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(
            e.to_string()
                .contains("NIGHTSHIFT_WATCHDOG_REDISPATCH_SECS"),
            "{e}"
        );
        assert!(e.to_string().contains("10 years"), "{e}");
    }

    #[test]
    fn a_retention_is_a_duration_and_a_bad_one_is_refused_naming_the_setting() {
        let env: HashMap<&str, &str> = [("NIGHTSHIFT_RETENTION", "12w")].into();
        let s = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.retention.as_chrono(), chrono::Duration::weeks(12));
        let env: HashMap<&str, &str> = [("NIGHTSHIFT_RETENTION", "ninety days")].into();
        let e = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(e.to_string().contains("NIGHTSHIFT_RETENTION"), "{e}");
        assert!(e.to_string().contains("90d"), "{e}");
    }

    fn azure_env() -> HashMap<&'static str, &'static str> {
        [
            ("NIGHTSHIFT_MODE", "azure"),
            ("NIGHTSHIFT_SUBSCRIPTION_ID", "sub-1"),
            ("NIGHTSHIFT_ARM_TOKEN", "arm-token-secret-value"),
            ("NIGHTSHIFT_STORAGE_ACCOUNT", "nsstore"),
            ("NIGHTSHIFT_STORAGE_KEY", "storage-key-secret-value"),
            ("NIGHTSHIFT_SERVICEBUS_NAMESPACE", "contoso-ns"),
            (
                "NIGHTSHIFT_KEY_VAULT_URL",
                "https://contoso.vault.azure.net",
            ),
            ("NIGHTSHIFT_ACI_RESOURCE_GROUP", "jobs"),
            ("NIGHTSHIFT_ACI_LOCATION", "westeurope"),
            ("NIGHTSHIFT_RUNNER_IMAGE", "contoso.azurecr.io/runner:1"),
            ("NIGHTSHIFT_ACI_IDENTITY_ID", "/subscriptions/s/id/runner"),
            ("NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID", "runner-cid"),
            ("NIGHTSHIFT_NOTIFY_WEBHOOK_SECRET", "teams-webhook-url"),
            ("AZURE_CLIENT_ID", "orchestrator-cid"),
        ]
        .into()
    }

    #[test]
    fn azure_mode_reads_the_adapters_and_terraform_settings_and_prints_no_secret() {
        let env = azure_env();
        let s = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();

        assert_eq!(s.azure.as_ref().unwrap().subscription_id, "sub-1");
        assert_eq!(s.notify.webhooks[0].secret, "teams-webhook-url");
        assert_eq!(
            s.terraform.backend_config("shop", "pr-7", "sql"),
            [
                "-backend-config=key=shop/pr-7/sql.tfstate",
                "-backend-config=storage_account_name=nsstore",
                "-backend-config=container_name=tfstate",
                "-backend-config=use_azuread_auth=true",
                "-backend-config=use_msi=true",
            ]
        );
        let provider: HashMap<String, String> = s.terraform.provider_env().into_iter().collect();
        assert_eq!(provider["ARM_USE_MSI"], "true");
        assert_eq!(provider["ARM_SUBSCRIPTION_ID"], "sub-1");
        assert_eq!(provider["ARM_CLIENT_ID"], "orchestrator-cid");
        let debug = format!("{s:?}");
        assert!(!debug.contains("secret-value"), "{debug}");

        // A container is told the targets, never a credential or this machine's paths.
        let job: HashMap<String, String> = s.job_env().into_iter().collect();
        let text = format!("{job:?}");
        assert!(!text.contains("secret-value"), "{text}");
        assert!(!job.contains_key("NIGHTSHIFT_STATE_DIR"));
        assert!(!job.contains_key("NIGHTSHIFT_TERRAFORM_CLIENT_ID"));
        assert_eq!(job["NIGHTSHIFT_TFSTATE_STORAGE_ACCOUNT"], "nsstore");
    }

    #[test]
    fn azure_mode_names_a_missing_required_setting() {
        let mut env = azure_env();
        env.remove("NIGHTSHIFT_SERVICEBUS_NAMESPACE");
        let e = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap_err();
        assert_eq!(e.name, "NIGHTSHIFT_SERVICEBUS_NAMESPACE");
        assert!(e.to_string().contains("NIGHTSHIFT_MODE=azure"), "{e}");
    }
}
