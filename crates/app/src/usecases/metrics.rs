//! `metrics`: delivery figures over the journal (run documents, notification delivery records under
//! `notifications/`). Reads the store; the counting is [`nightshift_core::metrics::compute`].

use crate::service::{App, AppError};
use nightshift_core::metrics::{self, Filter, MetricsReport, NotificationSample};

/// Where delivery records of notifications are kept (one JSON document each); absent until a notifier writes them.
pub const NOTIFICATIONS_PREFIX: &str = "notifications/";

impl App {
    /// The delivery metrics of the runs `filter` keeps.
    pub async fn metrics(&self, filter: &Filter) -> Result<MetricsReport, AppError> {
        let runs = self.repo.runs().await?;
        let mut samples = Vec::new();
        for key in self.repo.store().list(NOTIFICATIONS_PREFIX).await? {
            // A record that is not JSON is skipped, not fatal (the figures say how many were read); a store that
            // cannot answer now is an error to retry.
            match self.repo.get_json::<serde_json::Value>(&key).await {
                Ok(Some((v, _))) => samples.extend(NotificationSample::from_record(&v)),
                Ok(None) => {}
                Err(e) if !e.is_retryable() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(metrics::compute(&runs, &samples, filter, self.now()))
    }
}
