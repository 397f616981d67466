//! `metrics`: delivery figures over the journal (the runs' digests in the run index, which outlive the run
//! documents retention removes; notification delivery records under `notifications/`; the action journal under
//! `actions/`). Reads the store; the counting is [`nightshift_core::metrics::compute_digests`].

use crate::service::{App, AppError};
use nightshift_core::metrics::{self, ActionSample, Filter, MetricsReport, NotificationSample};
use serde_json::Value;

/// Where delivery records of notifications are kept (one JSON document each); absent until a notifier writes them.
pub const NOTIFICATIONS_PREFIX: &str = "notifications/";
/// The action journal (extend, keep, ...); absent until actions are recorded.
pub const ACTIONS_PREFIX: &str = "actions/";

impl App {
    /// The delivery metrics of the runs `filter` keeps.
    pub async fn metrics(&self, filter: &Filter) -> Result<MetricsReport, AppError> {
        self.ensure_index().await?;
        let runs = self.repo.digests_since(filter.since).await?;
        let notifications = self.records(NOTIFICATIONS_PREFIX).await?;
        let actions = self.records(ACTIONS_PREFIX).await?;
        Ok(metrics::compute_digests(
            &runs,
            &notifications
                .iter()
                .filter_map(NotificationSample::from_record)
                .collect::<Vec<_>>(),
            &actions
                .iter()
                .filter_map(ActionSample::from_record)
                .collect::<Vec<_>>(),
            filter,
            self.now(),
        ))
    }

    /// The JSON documents under a prefix. One that is not JSON is skipped, not fatal (the figures say how many were
    /// read); a store that cannot answer now is an error to retry.
    async fn records(&self, prefix: &str) -> Result<Vec<Value>, AppError> {
        let mut out = Vec::new();
        for key in self.repo.store().list(prefix).await? {
            match self.repo.get_json::<Value>(&key).await {
                Ok(Some((v, _))) => out.push(v),
                Ok(None) => {}
                Err(e) if !e.is_retryable() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}
