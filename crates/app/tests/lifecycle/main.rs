//! The environment lifecycle through release intake, the one writer (issue 7): every action's happy path and
//! rejections, idempotency under redelivery, and the failure policies. The local adapters stand in for the cloud,
//! the store and the state directory; a test clock moves time; step results are fed as the runner would send them.

mod actions;
mod failure_policy;
mod helpers;
mod idempotency;
mod run_index;
