//! The use cases, one module per function; each adds its methods to [`crate::App`].

pub mod actions;
pub mod dispatch;
pub mod doctor;
pub mod dossier;
pub mod envelope;
pub mod expiry_warning;
pub mod health;
pub mod lifecycle;
pub mod metrics;
pub mod nightly;
pub mod notify;
pub mod on_failure;
pub mod release;
pub mod retention;
pub mod status;
pub mod step_event;
pub mod sweep;
pub mod sweep_layers;
pub mod sweep_pending;
pub mod watchdog;
