//! The handler's integration tests: one binary, one module per area, every test against the real router over the
//! local adapters (`helpers::spawn_app`), fed with recorded invocation payloads from `tests/data/`.

mod actions;
mod bindings;
mod edges;
mod errors;
mod health;
mod helpers;
mod invocations_fuzz;
mod lifecycle_actions;
mod network;
mod readiness;
mod release_intake;
mod schemas;
mod status;
mod step_dispatch;
mod step_events;
