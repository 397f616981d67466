//! Builds the adapters behind the ports from the settings: the mode decides, not the code.
//!
//! Construction performs no I/O in either mode: the Azure adapters connect (and fetch tokens and keys) at their
//! first use, so the handler answers the Functions host's `GET /` even before the network is reachable.

use crate::service::Ports;
use crate::settings::{Mode, Settings};
use nightshift_azure::{GithubNotifier, LogNotifier, WebhookNotifier};
use nightshift_core::ports::{Notifier, Secrets, Store, SystemClock};
use nightshift_local::cloud::LocalCloud;
use nightshift_local::jobs::ProcessJobs;
use nightshift_local::notify::LocalNotifier;
use nightshift_local::queue::{LocalBus, QueueOptions};
use nightshift_local::secrets::LocalSecrets;
use nightshift_local::store::FsStore;
use nightshift_local::store_stats::{CountingStore, STORE_STATS_ENV};
use std::sync::Arc;

pub async fn ports(s: &Settings) -> anyhow::Result<Ports> {
    match s.mode {
        Mode::Local => Ok(local(s)),
        Mode::Azure => azure(s).await,
    }
}

/// The channels people are told on: one webhook adapter per configured webhook, in its format, its URL read from
/// the secrets port (Key Vault, or the local vault) at the first notification.
pub fn channels(
    s: &Settings,
    secrets: &Arc<dyn Secrets>,
    store: &Arc<dyn Store>,
) -> Vec<Arc<dyn Notifier>> {
    let mut c: Vec<Arc<dyn Notifier>> = s
        .notify
        .webhooks
        .iter()
        .map(|w| {
            Arc::new(WebhookNotifier::new(
                secrets.clone(),
                w.secret.clone(),
                w.format,
            )) as Arc<dyn Notifier>
        })
        .collect();
    if let Some(g) = &s.notify.github {
        c.push(Arc::new(GithubNotifier::new(
            g.api_url.clone(),
            g.repository.clone(),
            g.token_secret.clone(),
            secrets.clone(),
            store.clone(),
        )));
    }
    c
}

/// Everything on disk under the state directory.
pub fn local(s: &Settings) -> Ports {
    let secrets: Arc<dyn Secrets> = Arc::new(LocalSecrets::new(s.key_vault_dir()));
    let mut store: Arc<dyn Store> = Arc::new(FsStore::new(s.store_dir()));
    // Benchmarks only: every store operation recorded in that file (keys and sizes, never the bytes).
    if let Some(file) = std::env::var_os(STORE_STATS_ENV).filter(|f| !f.is_empty()) {
        store = Arc::new(CountingStore::new(store, file));
    }
    // Local jobs get their secrets' values from the local vault in their environment, as Container Instances'
    // secure environment variables would; a missing secret refuses the job, which fails its step.
    let mut jobs =
        ProcessJobs::new(s.jobs_dir(), s.runner_command.clone()).with_secrets(secrets.clone());
    for (k, v) in s.job_env() {
        jobs = jobs.with_env(k, v);
    }
    if s.runner_is_nightshift() {
        jobs = jobs.with_runner_writing_its_exit();
    }
    Ports {
        channels: channels(s, &secrets, &store),
        store,
        bus: Arc::new(LocalBus::new(s.queues_dir(), QueueOptions::default())),
        jobs: Arc::new(jobs),
        cloud: Arc::new(LocalCloud::new(s.cloud_dir())),
        notifier: Arc::new(LocalNotifier::new(s.state_dir.join("notifications.jsonl"))),
        secrets,
        clock: Arc::new(SystemClock),
        // Local Terraform state lives under the state directory; the sweep removes it with the environment.
        tfstate: None,
    }
}

/// Blob Storage, Service Bus, Container Instances, ARM and Key Vault; notifications to a webhook whose URL is a
/// Key Vault secret, or to the log.
async fn azure(s: &Settings) -> anyhow::Result<Ports> {
    let Some(config) = &s.azure else {
        anyhow::bail!("NIGHTSHIFT_MODE=azure but the Azure settings were not read (Settings::from_env reads them)")
    };
    let a = config.adapters();
    let secrets: Arc<dyn Secrets> = a.secrets;
    let notifier: Arc<dyn Notifier> = Arc::new(LogNotifier);
    let store: Arc<dyn Store> = a.store.clone();
    let channels = channels(s, &secrets, &store);
    tracing::debug!(?config, "Azure adapters built");
    Ok(Ports {
        store: a.store,
        bus: a.bus,
        jobs: a.jobs,
        cloud: a.cloud,
        notifier,
        channels,
        secrets,
        clock: Arc::new(SystemClock),
        tfstate: Some(Arc::new(config.container_store(
            s.terraform.state_storage_account.as_deref(),
            &s.terraform.state_container,
        ))),
    })
}
