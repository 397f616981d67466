//! nightshift's embedded adapters: everything the ports need to run complete on one machine, with no cloud.
//!
//! - [`store::FsStore`]: the `Store` port on a directory, with conditional writes atomic across processes.
//! - [`store_stats::CountingStore`]: a `Store` decorator recording each operation's bytes and outcome, for the
//!   benchmarks (`NIGHTSHIFT_STORE_STATS`).
//! - [`queue::DiskQueue`] and [`queue::LocalBus`]: on-disk queues with Service Bus semantics (peek-lock, duplicate
//!   detection, scheduled messages, dead-lettering), and the `Bus` port over them.
//! - [`cloud::LocalCloud`]: resource groups as directories with a `tags.json`.
//! - [`jobs::ProcessJobs`]: step attempts as detached local processes.
//! - [`notify::LocalNotifier`] and [`secrets::LocalSecrets`]: notifications to a JSON-lines file, secrets from files.
//! - [`host::FunctionsHost`]: a local stand-in for the Azure Functions host that drives our custom handler over HTTP.
//!
//! These adapters double as the test fakes of the core.

pub mod cloud;
mod fsutil;
pub mod host;
pub mod jobs;
pub mod notify;
pub mod queue;
pub mod secrets;
pub mod store;
pub mod store_stats;
