//! Release intake (`release-intake`): a message on `releases` becomes a run of a version in an environment.

use crate::service::{App, AppError, Outputs};
use nightshift_core::messages::{Rejection, Release};
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::run::Trigger;

impl App {
    /// A release message: start a run of a version in an environment.
    #[tracing::instrument(skip_all, fields(message_id))]
    pub async fn release(&self, body: &str, message_id: &str) -> Result<Outputs, AppError> {
        let mut out = Outputs::default();
        let release = match Release::decode(body) {
            Ok(r) => r,
            Err(why) => {
                self.reject("releases", message_id, body, &why, &mut out)
                    .await?;
                return Ok(out);
            }
        };
        let catalog = self.catalog()?;
        let plan = catalog
            .product(release.product.as_str())
            .ok_or_else(|| {
                Rejection::new(format!(
                    "unknown product {:?} (catalog: {})",
                    release.product.as_str(),
                    catalog
                        .products
                        .keys()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
            .and_then(|product| {
                if product.platform != self.platform() {
                    return Err(Rejection::new(format!(
                        "product {} runs on the {:?} platform, this instance is in {} mode",
                        product.name,
                        product.platform,
                        self.settings.mode.as_str()
                    )));
                }
                planner::plan(PlanRequest {
                    product,
                    environment: &release.environment,
                    trigger: Trigger::Release {
                        version: release.version.clone(),
                        requested_by: release.requested_by.clone(),
                        message_id: message_id.to_string(),
                        commit_time: release.commit_time,
                    },
                    ttl: release.ttl,
                    instance: &self.settings.instance,
                    now: self.now(),
                })
                .map_err(|e| Rejection::new(e.to_string()))
            });
        match plan {
            Ok(run) => self.start_run(run, &mut out).await?,
            Err(why) => {
                self.reject("releases", message_id, body, &why, &mut out)
                    .await?
            }
        }
        Ok(out)
    }
}
