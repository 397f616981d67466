//! The nightly timer (`nightly-scheduler`): starts a run for every environment due tonight.

use crate::service::{App, AppError, Outputs};
use nightshift_core::catalog::EnvironmentKind;
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::ports::PortError;
use nightshift_core::run::Trigger;

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
                let run = planner::plan(PlanRequest {
                    product,
                    environment: &env.name,
                    trigger: Trigger::Nightly { night },
                    ttl: None,
                    instance: &self.settings.instance,
                    now,
                })
                .map_err(|e| PortError::Permanent(e.to_string()))?;
                self.start_run(run, &mut out).await?;
            }
        }
        Ok(out)
    }
}
