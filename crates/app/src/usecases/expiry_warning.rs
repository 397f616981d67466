//! Warnings before deletion (run by the expiry sweeper's pass) and the notice that an environment is gone.
//!
//! An environment whose expiry falls within its catalog entry's `warn_before` gets one warning per expiry value:
//! the sweeper records `warnings/<product>/<environment>/<expiry, Unix seconds>.json` with a conditional create
//! and sends only when it created it, so a second pass (or a second sweeper) sends nothing, and an extension (a new
//! expiry) warns again. The record is written before the send: a crash in between loses one warning rather than
//! sending two.

use crate::repo::EnvironmentRecord;
use crate::service::{App, AppError};
use chrono::{DateTime, Utc};
use nightshift_core::catalog::Catalog;
use nightshift_core::engine::{Notification, NotificationKind};
use nightshift_core::notice::Details;
use nightshift_core::ports::{PortError, Precondition};
use nightshift_core::EnvironmentName;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WarningSent {
    product: String,
    environment: String,
    expires_at: DateTime<Utc>,
    warned_at: DateTime<Utc>,
}

pub fn warning_key(product: &str, env: &str, expires_at: DateTime<Utc>) -> String {
    format!("warnings/{product}/{env}/{}.json", expires_at.timestamp())
}

impl App {
    /// Sends the expiry warnings that are due; returns how many were sent.
    pub async fn warn_expiring(
        &self,
        catalog: &Catalog,
        now: DateTime<Utc>,
    ) -> Result<usize, AppError> {
        let mut sent = 0;
        for rec in self.repo.environments().await? {
            if matches!(rec.status.as_str(), "destroyed" | "destroying") {
                continue;
            }
            let Some(expires_at) = rec.expires_at else {
                continue;
            };
            let warn_before = catalog
                .product(&rec.product)
                .and_then(|p| {
                    EnvironmentName::parse(&rec.environment)
                        .ok()
                        .and_then(|e| p.resolve_environment(&e).cloned())
                })
                .and_then(|def| def.warn_before);
            let Some(warn_before) = warn_before else {
                continue;
            };
            if now >= expires_at || now < expires_at - warn_before.as_chrono() {
                continue;
            }
            let mark = WarningSent {
                product: rec.product.clone(),
                environment: rec.environment.clone(),
                expires_at,
                warned_at: now,
            };
            match self
                .repo
                .put_json(
                    &warning_key(&rec.product, &rec.environment, expires_at),
                    &mark,
                    Precondition::Absent,
                )
                .await
            {
                Ok(_) => {}
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            let n = self.expiry_warning(&rec, expires_at, now).await;
            self.send_notification(&n).await;
            sent += 1;
        }
        Ok(sent)
    }

    async fn expiry_warning(
        &self,
        rec: &EnvironmentRecord,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Notification {
        let (p, e) = (&rec.product, &rec.environment);
        let actions = match self.action_links(p, e, expires_at).await {
            Ok(a) => a,
            Err(err) => {
                // The warning matters more than its buttons.
                tracing::warn!(error = %err, "action links not made");
                Vec::new()
            }
        };
        let left = expires_at - now;
        Notification {
            kind: NotificationKind::ExpiryWarning,
            run: rec.last_run.clone(),
            product: p.clone(),
            environment: e.clone(),
            text: format!(
                "{p}/{e} will be deleted at {} (in {}h {:02}m)",
                expires_at.format("%Y-%m-%d %H:%M UTC"),
                left.num_hours(),
                left.num_minutes() % 60
            ),
            details: Box::new(Details {
                expires_at: Some(expires_at),
                next: Some(format!(
                    "to keep it longer: nightshift extend {p} {e} --by 1d"
                )),
                actions,
                event_at: Some(now),
                ..Details::default()
            }),
        }
    }

    /// Tells that an environment was destroyed: by whom (the sweep, a close, a destroy) and why.
    pub async fn notify_destroyed(
        &self,
        rec: &EnvironmentRecord,
        by: &str,
        why: &str,
        now: DateTime<Utc>,
    ) {
        let n = Notification {
            kind: NotificationKind::EnvironmentDestroyed,
            run: rec.last_run.clone(),
            product: rec.product.clone(),
            environment: rec.environment.clone(),
            text: format!(
                "{}/{} was destroyed by {by}: {why}",
                rec.product, rec.environment
            ),
            details: Box::new(Details {
                requested_by: Some(by.to_string()),
                reason: Some(why.to_string()),
                event_at: Some(now),
                ..Details::default()
            }),
        };
        let n = self.enrich(n).await;
        self.send_notification(&n).await;
    }
}
