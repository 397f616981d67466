//! `health` (HTTP GET `api/health`, anonymous): is the store reachable? The Function App's health check
//! (`health_check_path` in terraform/orchestrator) calls it; an instance that cannot reach its journal is taken out.

use crate::service::App;
use serde::Serialize;

/// The key read to probe the store: its absence is a fine answer, a failure to answer is not.
pub const PROBE_KEY: &str = "health/probe";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub healthy: bool,
    /// What is wrong, for the person reading the probe's answer (names and errors, never secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl App {
    /// Reads one key of the store.
    pub async fn health(&self) -> Health {
        match self.repo.store().get(PROBE_KEY).await {
            Ok(_) => Health {
                healthy: true,
                error: None,
            },
            Err(e) => Health {
                healthy: false,
                error: Some(format!("the store is unreachable: {e}")),
            },
        }
    }
}
