//! The per-environment index of waiting runs: `waiting/<product>/<environment>/<created-at>-<run>`, one key per run
//! that waits for its environment's lease, oldest first. A finished run finds the next one to start by listing its
//! own environment's keys, never by reading every active run.
//!
//! At-least-once: a key is written (unconditionally, so a repeat is harmless) before the run is marked waiting, and
//! deleted only once the run is seen not waiting; a key whose run is gone or no longer waits is dropped when found.
//! The watchdog writes the key of every waiting run it sees, which heals a crash between the two writes and state
//! directories written before the index existed.

use crate::repo::Repo;
use nightshift_core::ports::{PortError, Precondition};
use nightshift_core::run::Run;
use nightshift_core::{EnvironmentName, ProductName, RunId};

fn prefix(product: &str, env: &str) -> String {
    format!("waiting/{product}/{env}/")
}

/// The key of a waiting run: sorted by creation time, then id.
pub fn waiting_key(run: &Run) -> String {
    format!(
        "{}{}-{}",
        prefix(run.product.as_str(), run.environment.as_str()),
        run.created_at.format("%Y%m%dT%H%M%S%.6fZ"),
        run.id
    )
}

impl Repo {
    /// Records that `run` waits for its environment (idempotent).
    pub async fn mark_waiting(&self, run: &Run) -> Result<(), PortError> {
        self.store()
            .put(
                &waiting_key(run),
                run.id.to_string().into_bytes(),
                Precondition::None,
            )
            .await
            .map(|_| ())
    }

    /// Removes `run` from its environment's waiting index (idempotent).
    pub async fn unmark_waiting(&self, run: &Run) -> Result<(), PortError> {
        self.store().delete(&waiting_key(run)).await
    }

    /// The runs indexed as waiting for an environment, oldest first, with their keys. A key that names no valid run
    /// id is skipped.
    pub async fn waiting_runs(
        &self,
        product: &ProductName,
        env: &EnvironmentName,
    ) -> Result<Vec<(String, RunId)>, PortError> {
        let mut keys = self
            .store()
            .list(&prefix(product.as_str(), env.as_str()))
            .await?;
        keys.sort();
        Ok(keys
            .into_iter()
            .filter_map(|k| {
                let name = k.rsplit('/').next()?;
                let (_, id) = name.split_once('-')?;
                RunId::parse(id).ok().map(|id| (k.clone(), id))
            })
            .collect())
    }
}
