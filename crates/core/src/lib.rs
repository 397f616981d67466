//! nightshift's pure domain.
//!
//! Nothing in this crate performs I/O: the catalog is parsed from text, the planner turns a catalog and a trigger
//! into a run, the run engine turns `(run, event)` into `(run, commands)`, and the expiry module turns resource
//! groups and a clock reading into sweep decisions. The ports the edges implement are small traits in [`ports`].

pub mod action_link;
pub mod catalog;
pub mod dossier;
pub mod engine;
pub mod expiry;
pub mod json;
pub mod lifecycle;
pub mod messages;
pub mod metrics;
pub mod names;
pub mod notice;
pub mod planner;
pub mod ports;
pub mod reconcile;
pub mod run;
pub mod run_digest;
pub mod schedule;
pub mod teardown;
pub mod template;

pub use names::{EnvironmentName, JobName, ProductName, RunId, StepName, Ttl};
