//! nightshift's application layer: the use cases each function runs, written against the core's ports.
//!
//! A use case loads what it needs through the ports, asks the pure core for a decision, writes the result with a
//! conditional write (re-reading and re-applying when another writer won), and carries out the core's commands.
//! Handlers and the CLI call these use cases; neither knows which adapters are behind the ports.

pub mod catalog_files;
pub mod dossier;
pub mod environments;
pub mod index;
pub mod notify_settings;
pub mod repo;
mod run_journal;
pub mod runner;
pub mod service;
pub mod settings;
pub mod slots;
pub mod telemetry;
pub mod tools;
pub mod usecases;
pub mod waiting;
pub mod wiring;

pub use nightshift_azure::Need;
pub use run_journal::journal_key;
pub use service::{App, Ports};
pub use settings::{Mode, Settings};
