//! The embedded default, assembled: the local Functions host driving the real handler process over the
//! custom-handler protocol, with on-disk queues, store, jobs and cloud under one state directory.
//! `nightshift up` and the end-to-end tests start exactly this.

use anyhow::Context;
use nightshift_app::{App, Settings};
use nightshift_local::host::{FunctionsHost, HandlerCommand, HostConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::serve_lock::{ServeInfo, ServeLock};

#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Fire timers on their schedules (the watchdog, the sweeper); the nightly timer is fired by hand.
    pub run_timers: bool,
    pub watchdog_schedule: String,
    /// Test hook: every Service Bus message is delivered twice.
    pub deliver_twice: bool,
    /// Extra app settings (also the handler's environment).
    pub app_settings: BTreeMap<String, String>,
    /// The handler to start (default: [`handler_command`]).
    pub handler: Option<HandlerCommand>,
    /// Serve HTTP triggers and the admin API on 127.0.0.1:<port> (0: a free port); None: no HTTP.
    pub http_port: Option<u16>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            run_timers: true,
            watchdog_schedule: "*/5 * * * * *".into(),
            deliver_twice: false,
            app_settings: BTreeMap::new(),
            handler: None,
            http_port: None,
        }
    }
}

pub struct LocalStack {
    pub host: FunctionsHost,
    pub app: App,
    /// Held while the host runs: one host per state directory.
    _lock: ServeLock,
}

/// The handler program: NIGHTSHIFT_HANDLER_BIN (e.g. the deployed `handler` binary), or this binary's own
/// `handler` command, which serves the same router. A `handler` file beside this binary is not used by default:
/// `cargo run` rebuilds only this package, so it could be stale.
pub fn handler_command() -> HandlerCommand {
    if let Some(p) = std::env::var_os("NIGHTSHIFT_HANDLER_BIN") {
        return HandlerCommand::new(PathBuf::from(p), Vec::<String>::new());
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("nightshift"));
    HandlerCommand::new(exe, ["handler"])
}

impl LocalStack {
    pub async fn start(settings: Settings, opts: StackOptions) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.state_dir)
            .with_context(|| format!("cannot create {}", settings.state_dir.display()))?;
        let lock = ServeLock::try_acquire(&settings.state_dir)
            .with_context(|| format!("cannot lock {}", settings.state_dir.display()))?;
        let Some(lock) = lock else {
            let who = crate::serve_lock::running(&settings.state_dir)
                .map(|i| format!(" (pid {}, port {:?})", i.pid, i.port))
                .unwrap_or_default();
            anyhow::bail!(
                "a local host already runs on {}{who}: stop it (Ctrl-C on its `nightshift serve`), or use `nightshift up`, which joins it",
                settings.state_dir.display()
            );
        };
        let mut app_settings: BTreeMap<String, String> = settings.job_env().into_iter().collect();
        app_settings.insert(
            "NIGHTSHIFT_RUNNER".into(),
            settings.runner_command.join(" "),
        );
        app_settings.insert(
            "NIGHTSHIFT_SWEEP_CAP".into(),
            settings.sweep_cap.to_string(),
        );
        app_settings.insert(
            "NIGHTSHIFT_WATCHDOG_REDISPATCH_SECS".into(),
            settings.watchdog_redispatch_secs.to_string(),
        );
        app_settings.insert(
            "NIGHTSHIFT_WATCHDOG_RESULT_GRACE_SECS".into(),
            settings.watchdog_result_grace_secs.to_string(),
        );
        app_settings.insert("NIGHTSHIFT_MAX_JOBS".into(), settings.max_jobs.to_string());
        app_settings.insert(
            "NIGHTSHIFT_RETENTION".into(),
            settings.retention.to_string(),
        );
        app_settings.insert(
            "NIGHTSHIFT_DELETE_FINISHED_JOBS".into(),
            settings.delete_finished_jobs.to_string(),
        );
        // Timer schedules in UTC (NCRONTAB, six fields). The nightly timer decides what is due in the catalog's
        // own time zones, so firing it hourly is enough; `up` fires it at once.
        app_settings.insert("NIGHTLY_SCHEDULE".into(), "0 0 * * * *".into());
        app_settings.insert("WATCHDOG_SCHEDULE".into(), opts.watchdog_schedule.clone());
        app_settings.insert("SWEEP_SCHEDULE".into(), "0 */10 * * * *".into());
        app_settings.insert("FUNCTIONS_WORKER_RUNTIME".into(), "Custom".into());
        app_settings.extend(opts.app_settings.clone());

        let mut config = HostConfig::new(
            settings.repo_root.clone(),
            opts.handler.clone().unwrap_or_else(handler_command),
            settings.queues_dir(),
            settings.logs_dir().join("host.log"),
        );
        std::fs::create_dir_all(settings.logs_dir())?;
        config.app_settings = app_settings;
        config.run_timers = opts.run_timers;
        config.deliver_twice = opts.deliver_twice;
        // Service Bus invocations in flight per function: host.json's maxConcurrentCalls, as on Azure.
        config.http_port = opts.http_port;
        // This host holds the state directory's lock: whatever is still locked on its queues was left by a host
        // that died (SIGKILL), and is delivered again now rather than when its lock expires.
        config.release_stale_locks = true;
        config.startup_timeout = Duration::from_secs(60);
        let host = FunctionsHost::start(config)
            .await
            .context("cannot start the local Functions host")?;
        lock.publish(&ServeInfo {
            pid: std::process::id(),
            port: host.http_addr().map(|a| a.port()),
            started_at: chrono::Utc::now(),
        })
        .context("cannot write serve.json")?;
        let ports = nightshift_app::wiring::local(&settings);
        Ok(Self {
            host,
            app: App::new(ports, settings),
            _lock: lock,
        })
    }

    pub async fn shutdown(self) {
        self.host.shutdown().await;
    }
}
