//! End-to-end tests of the embedded default, on the real custom-handler protocol: the local Functions host (which
//! follows the documented protocol of the Azure Functions host, quirks included) POSTs invocations to the real
//! handler process; jobs are real `nightshift runner` processes; queues, store and cloud are on disk.

mod chat_actions;
mod cli_env;
mod closed_pipe;
mod concurrency;
mod fail_closed;
mod helpers;
mod lifecycle;
mod metrics;
mod notifications;
mod outside_layers;
mod paging;
mod reconcile;
mod resilience;
mod second_product;
mod serve;
mod verbs;
