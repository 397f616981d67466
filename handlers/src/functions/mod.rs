//! One module per function: each unpacks its invocation, calls one use case, and packs the outputs.

pub mod actions;
pub mod expiry_sweeper;
pub mod job_watchdog;
pub mod nightly_scheduler;
pub mod notification_retry;
pub mod release_intake;
pub mod status;
pub mod step_dispatch;
pub mod step_events;

/// The Service Bus output binding that carries step dispatches (function.json: `"name": "steps"`).
pub const STEPS_BINDING: &str = "steps";
/// The Service Bus trigger binding (function.json: `"name": "message"`).
pub const MESSAGE_BINDING: &str = "message";
