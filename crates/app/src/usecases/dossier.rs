//! The per-environment dossier (`nightshift dossier`, and after each successful run): built from the catalog, the
//! stacks and the run's outputs, stored at a deterministic key so a redelivered event rewrites the same bytes, and
//! compared between two builds (`nightshift dossier --diff RUN_A RUN_B`).

use crate::dossier::{self, Input, RunFacts};
use crate::service::{App, AppError};
use nightshift_core::dossier::diff::{self, DossierDiff};
use nightshift_core::dossier::{markdown, Dossier, Lang};
use nightshift_core::ports::{PortError, Precondition};
use nightshift_core::run::{Run, RunStatus};
use nightshift_core::RunId;

/// Where a run's dossier lives in the store: `dossiers/<product>/<environment>/<run>.json` (the facts, for diffs)
/// and the same key with `.md` (the document).
pub fn dossier_key(product: &str, environment: &str, run: &str) -> String {
    format!("dossiers/{product}/{environment}/{run}.json")
}

pub fn run_facts(run: &Run) -> RunFacts {
    RunFacts {
        id: run.id.to_string(),
        version: Some(run.trigger.version().to_string()),
        expires_at: run.expires_at.map(|t| t.to_rfc3339()),
        outputs: run.outputs(),
    }
}

impl App {
    /// The dossier of a run's environment, from the current catalog and stacks and the run's outputs.
    pub fn dossier_of_run(&self, run: &Run) -> Result<Dossier, AppError> {
        let catalog = self.catalog()?;
        let product = catalog.product(run.product.as_str()).ok_or_else(|| {
            PortError::Permanent(format!(
                "product {} is no longer in the catalog",
                run.product
            ))
        })?;
        let env = product
            .resolve_environment(&run.environment)
            .ok_or_else(|| {
                PortError::Permanent(format!(
                    "environment {} is no longer in {}",
                    run.environment, product.source
                ))
            })?;
        let facts = run_facts(run);
        Ok(dossier::build(&Input {
            repo_root: &self.settings.repo_root,
            product,
            environment: env,
            environment_name: run.environment.as_str(),
            run: Some(&facts),
        }))
    }

    /// Generates and stores a succeeded run's dossier; returns its key. Idempotent: same run, same key and bytes.
    pub async fn store_dossier(&self, run: &Run) -> Result<Option<String>, AppError> {
        if run.status != RunStatus::Succeeded {
            return Ok(None);
        }
        let d = self.dossier_of_run(run)?;
        let key = dossier_key(
            run.product.as_str(),
            run.environment.as_str(),
            run.id.as_str(),
        );
        let json = serde_json::to_vec_pretty(&d)
            .map_err(|e| PortError::Permanent(format!("dossier of {}: {e}", run.id)))?;
        let store = self.repo.store();
        store.put(&key, json, Precondition::None).await?;
        let md = markdown::render(&d, Lang::Fr);
        store
            .put(
                &key.replace(".json", ".md"),
                md.into_bytes(),
                Precondition::None,
            )
            .await?;
        Ok(Some(key))
    }

    /// The stored dossier of a run.
    pub async fn stored_dossier(&self, id: &RunId) -> Result<Dossier, AppError> {
        let run = self.repo.run(id).await?.ok_or_else(|| {
            PortError::Permanent(format!("no run {id}: list runs with nightshift status"))
        })?;
        let key = dossier_key(run.product.as_str(), run.environment.as_str(), id.as_str());
        let stored = self.repo.store().get(&key).await?.ok_or_else(|| {
            PortError::Permanent(format!(
                "run {id} has no stored dossier ({key}): dossiers are generated after each successful run"
            ))
        })?;
        serde_json::from_slice(&stored.bytes)
            .map_err(|e| PortError::Permanent(format!("{key} is not a dossier: {e}")).into())
    }

    /// What changed between two builds.
    pub async fn dossier_diff(&self, a: &RunId, b: &RunId) -> Result<DossierDiff, AppError> {
        let (a, b) = (self.stored_dossier(a).await?, self.stored_dossier(b).await?);
        Ok(diff::diff(&a, &b))
    }

    /// The keys of the stored dossiers, by run id (for `status`).
    pub async fn dossier_keys(
        &self,
    ) -> Result<std::collections::BTreeMap<String, String>, AppError> {
        Ok(self
            .repo
            .store()
            .list("dossiers/")
            .await?
            .into_iter()
            .filter(|k| k.ends_with(".json"))
            .filter_map(|k| {
                let run = k.rsplit('/').next()?.strip_suffix(".json")?.to_string();
                Some((run, k))
            })
            .collect())
    }
}
