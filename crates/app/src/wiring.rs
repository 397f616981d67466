//! Builds the adapters behind the ports from the settings: the mode decides, not the code.

use crate::service::Ports;
use crate::settings::{Mode, Settings};
use nightshift_core::ports::SystemClock;
use nightshift_local::cloud::LocalCloud;
use nightshift_local::jobs::ProcessJobs;
use nightshift_local::notify::LocalNotifier;
use nightshift_local::queue::{LocalBus, QueueOptions};
use nightshift_local::secrets::LocalSecrets;
use nightshift_local::store::FsStore;
use std::sync::Arc;

pub async fn ports(s: &Settings) -> anyhow::Result<Ports> {
    match s.mode {
        Mode::Local => Ok(local(s)),
        Mode::Azure => azure(s).await,
    }
}

/// Everything on disk under the state directory.
pub fn local(s: &Settings) -> Ports {
    let mut jobs = ProcessJobs::new(s.jobs_dir(), s.runner_command.clone());
    for (k, v) in s.job_env() {
        jobs = jobs.with_env(k, v);
    }
    Ports {
        store: Arc::new(FsStore::new(s.store_dir())),
        bus: Arc::new(LocalBus::new(s.queues_dir(), QueueOptions::default())),
        jobs: Arc::new(jobs),
        cloud: Arc::new(LocalCloud::new(s.cloud_dir())),
        notifier: Arc::new(LocalNotifier::new(s.state_dir.join("notifications.jsonl"))),
        secrets: Arc::new(LocalSecrets::new(s.key_vault_dir())),
        clock: Arc::new(SystemClock),
    }
}

async fn azure(_s: &Settings) -> anyhow::Result<Ports> {
    anyhow::bail!("NIGHTSHIFT_MODE=azure: the Azure adapters are not wired in this build")
}
