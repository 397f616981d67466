//! The nightly timer (`nightly-scheduler`): starts a run for every environment due tonight.
//!
//! A night builds its environment once: two firings start one run (the run id derives from the night). After that
//! build was destroyed (a sweep, a `destroy`), the night's environment is built again only on request:
//! `nightshift up` leaves a [`RebuildRequest`] naming the destroyed run, and the next firing builds the night's
//! next build under a run id of its own (`…n20261121-2`), the destroyed one staying in history. Without a request
//! nothing is rebuilt, so a lifetime shorter than the catch-up window never makes a sweep-and-rebuild loop.

use crate::service::{App, AppError, Outputs};
use chrono::{DateTime, Utc};
use nightshift_core::catalog::EnvironmentKind;
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::ports::{PortError, Precondition};
use nightshift_core::run::Trigger;
use nightshift_core::RunId;
use serde::{Deserialize, Serialize};

/// Where a rebuild request for an environment waits for the next firing.
pub fn rebuild_key(product: &str, env: &str) -> String {
    format!("rebuild/{product}/{env}.json")
}

/// "Build tonight's environment again: the build `after` was destroyed."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebuildRequest {
    pub after: String,
    pub requested_by: String,
    pub at: DateTime<Utc>,
}

impl App {
    /// The nightly timer: starts a run for every environment due tonight.
    #[tracing::instrument(skip_all)]
    pub async fn nightly(&self) -> Result<Outputs, AppError> {
        let catalog = self.catalog()?;
        let now = self.now();
        let mut out = Outputs::default();
        for product in catalog.products.values() {
            if product.platform != self.platform() {
                continue;
            }
            for env in product
                .environments
                .values()
                .filter(|e| e.kind == EnvironmentKind::Nightly)
            {
                let Some(schedule) = &env.schedule else {
                    continue;
                };
                let Some(night) = nightshift_core::schedule::due_night(schedule, now) else {
                    continue;
                };
                let mut req = PlanRequest {
                    product,
                    environment: &env.name,
                    trigger: Trigger::Nightly { night, rebuild: 0 },
                    ttl: None,
                    instance: &self.settings.instance,
                    now,
                };
                let first = planner::run_id(&req);
                let rebuild = self
                    .requested_rebuild(product.name.as_str(), env.name.as_str(), &first)
                    .await?;
                req.trigger = Trigger::Nightly { night, rebuild };
                let run = planner::plan(req).map_err(|e| PortError::Permanent(e.to_string()))?;
                self.start_run(run, &mut out).await?;
            }
        }
        Ok(out)
    }

    /// Asks the next firing to build tonight's environment again, `after` (a build of tonight) having been
    /// destroyed. Idempotent: the same request twice is one rebuild.
    pub async fn request_rebuild(
        &self,
        product: &str,
        env: &str,
        after: &RunId,
        requested_by: &str,
    ) -> Result<(), PortError> {
        let req = RebuildRequest {
            after: after.to_string(),
            requested_by: requested_by.to_string(),
            at: self.now(),
        };
        self.repo
            .put_json(&rebuild_key(product, env), &req, Precondition::None)
            .await
            .map(|_| ())
    }

    /// Which build of tonight a firing should start: 0 (the first) unless a rebuild request names the build the
    /// environment record shows destroyed (or whose rebuild is still going), then the next one. A request that no
    /// longer applies is removed.
    async fn requested_rebuild(
        &self,
        product: &str,
        env: &str,
        first: &RunId,
    ) -> Result<u32, PortError> {
        let key = rebuild_key(product, env);
        let request = match self.repo.get_json::<RebuildRequest>(&key).await {
            Ok(Some((r, _))) => r,
            Ok(None) => return Ok(0),
            Err(PortError::Permanent(why)) => {
                tracing::warn!("ignoring an unreadable rebuild request: {why}");
                self.repo.store().delete(&key).await?;
                return Ok(0);
            }
            Err(e) => return Err(e),
        };
        let Some(n) = planner::nightly_rebuild_of(&request.after, first) else {
            // A request from another night.
            self.repo.store().delete(&key).await?;
            return Ok(0);
        };
        let next = n + 1;
        let record = self.repo.environment(product, env).await?;
        let destroyed = record
            .as_ref()
            .is_some_and(|r| r.status == "destroyed" && r.last_run == request.after);
        let rebuilding = record
            .as_ref()
            .is_some_and(|r| planner::nightly_rebuild_of(&r.last_run, first) == Some(next))
            && record.as_ref().is_some_and(|r| r.status == "building");
        if destroyed || rebuilding {
            return Ok(next);
        }
        self.repo.store().delete(&key).await?;
        Ok(0)
    }
}
