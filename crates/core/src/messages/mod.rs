//! The messages nightshift exchanges on its queues, versioned by a `schema` field.
//!
//! Decoding validates: a message that can never succeed is a [`Rejection`] with its reason, which the handlers
//! record and acknowledge instead of letting the queue retry it.
//!
//! By concern: [`envelope`] (what every message must satisfy, the strict decoder, [`Rejection`]), [`release`] (the
//! `releases` queue: every lifecycle action) and [`step`] (the `steps` and `step-events` queues). Everything is
//! re-exported here, so `crate::messages::X` names every item.

pub mod envelope;
pub mod release;
pub mod step;

pub use envelope::*;
pub use release::*;
pub use step::*;

pub const RELEASE_SCHEMA: &str = "nightshift.release/v1";
pub const STEP_SCHEMA: &str = "nightshift.step/v1";
pub const STEP_EVENT_SCHEMA: &str = "nightshift.step-event/v1";

pub const RELEASES_QUEUE: &str = "releases";
pub const STEPS_QUEUE: &str = "steps";
pub const STEP_EVENTS_QUEUE: &str = "step-events";
