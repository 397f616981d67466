//! Telling people (`execute`'s notifications, the sweep's warnings, and the `notification-retry` function):
//! enriches a notification with what the cards show, delivers it to every channel, records each delivery and
//! retries a failed one later as a scheduled message on the `notifications` queue. A delivery never blocks or fails
//! a run: at worst it is recorded as failed, which `status` shows.
//!
//! Each delivery is recorded at `notifications/<run>/<id>.json` ([`DeliveryRecord`]: `event_at`, `delivered_at`,
//! `attempts`, `outcome`, `delay_ms`), the id being derived from the notification and the channel, so a repeat of
//! the same notification to the same channel (a redelivered message) sends nothing twice.

use crate::repo::log_key;
use crate::service::{App, AppError, Outputs};
use crate::telemetry;
use chrono::{DateTime, Duration, Utc};
use nightshift_core::engine::{Notification, NotificationKind};
use nightshift_core::messages::Rejection;
use nightshift_core::notice::{self, Details};
use nightshift_core::ports::{Notifier, OutboundMessage, Precondition};
use nightshift_core::run::{Run, StepStatus, Trigger};
use nightshift_core::{RunId, StepName};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The queue of delivery retries (scheduled messages), with its own function `notification-retry`.
pub const NOTIFICATIONS_QUEUE: &str = "notifications";
pub const RETRY_SCHEMA: &str = "nightshift.notification-retry/v1";
/// Tries per delivery, the first included: 30 s, 1, 2, 4 min apart (about 8 minutes in all).
pub const MAX_DELIVERY_ATTEMPTS: u32 = 5;
const FIRST_BACKOFF_SECS: i64 = 30;
/// Log lines a failure card shows.
const LOG_TAIL_LINES: usize = 15;

/// One delivery of one notification to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub id: String,
    pub run: String,
    pub product: String,
    pub environment: String,
    pub kind: String,
    pub target: String,
    /// When the event happened.
    pub event_at: DateTime<Utc>,
    /// When the channel answered 2xx.
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    /// `pending` (a retry is scheduled), `delivered` or `failed`.
    pub outcome: String,
    /// `delivered_at - event_at` in milliseconds: the notification delay.
    pub delay_ms: Option<i64>,
    pub error: Option<String>,
}

impl DeliveryRecord {
    /// The fields of [`telemetry::NOTIFICATION_FINISHED`]: the channel (`FORMAT:SECRET-NAME`, a name, never the
    /// webhook URL), its format, and the notification delay `delay_ms` (event to the channel's 2xx; null when the
    /// delivery failed for good).
    pub fn event_fields(&self) -> serde_json::Value {
        let format = self.target.split(':').next().unwrap_or_default();
        serde_json::json!({
            "product": self.product, "environment": self.environment, "run_id": self.run, "id": self.id,
            "kind": self.kind, "channel": self.target, "format": format, "outcome": self.outcome,
            "attempts": self.attempts, "delay_ms": self.delay_ms, "error": self.error,
        })
    }
}

/// The body of a retry message on the `notifications` queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryMessage {
    pub schema: String,
    pub target: String,
    pub attempt: u32,
    pub notification: Notification,
}

/// The id of a notification sent to a channel: stable across repeats of the same event.
pub fn delivery_id(n: &Notification, target: &str) -> String {
    let mut h = Sha256::new();
    h.update(notice::kind_name(&n.kind));
    for part in [&n.run, &n.product, &n.environment, &n.text, target] {
        h.update([0]);
        h.update(part.as_bytes());
    }
    let d = h.finalize();
    let hex: String = d.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", notice::kind_name(&n.kind))
}

pub fn delivery_key(run: &str, id: &str) -> String {
    let run = if run.is_empty() { "-" } else { run };
    format!("notifications/{run}/{id}.json")
}

fn backoff(attempt: u32) -> Duration {
    Duration::seconds(FIRST_BACKOFF_SECS << (attempt.saturating_sub(1)).min(6))
}

/// Whether a value is a link worth a button.
fn is_url(v: &serde_json::Value) -> Option<&str> {
    v.as_str()
        .filter(|s| s.starts_with("https://") || s.starts_with("http://"))
}

impl App {
    /// Fills in what the cards show from the run: version, requester, duration, URLs, expiry, the failed step's
    /// last log lines (redacted), what to do next and the status link. A missing run leaves the text alone.
    pub(crate) async fn enrich(&self, mut n: Notification) -> Notification {
        let now = self.now();
        n.details.event_at.get_or_insert(now);
        if let Some(base) = &self.settings.notify.public_url {
            if !n.run.is_empty() && n.details.status_url.is_none() {
                n.details.status_url = Some(format!("{base}/api/status/runs/{}", n.run));
            }
        }
        let Ok(id) = RunId::parse(&n.run) else {
            return n;
        };
        let run = match self.repo.run(&id).await {
            Ok(Some(run)) => run,
            _ => return n,
        };
        fill_from_run(&mut n.details, &n.kind, &run, now);
        let failed_step = n.details.step.clone().or_else(|| {
            run.steps
                .iter()
                .find(|(_, s)| s.status == StepStatus::Failed)
                .map(|(k, _)| k.to_string())
        });
        if matches!(
            n.kind,
            NotificationKind::StepFailed
                | NotificationKind::StepRetrying
                | NotificationKind::RunFailed
        ) {
            if let Some(step) = failed_step {
                n.details.step.get_or_insert(step.clone());
                let attempt = n.details.attempt.or_else(|| {
                    StepName::parse(&step)
                        .ok()
                        .and_then(|s| run.step(&s))
                        .map(|s| s.attempt)
                });
                if let (Ok(s), Some(a)) = (StepName::parse(&step), attempt) {
                    n.details.log_tail = self.log_tail(&run.id, &s, a).await;
                }
            }
        }
        n
    }

    async fn log_tail(&self, run: &RunId, step: &StepName, attempt: u32) -> Vec<String> {
        let Ok(Some(v)) = self.ports.store.get(&log_key(run, step, attempt)).await else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(&v.bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..]
            .iter()
            .map(|l| notice::truncate(&notice::redact(l), 300))
            .collect()
    }

    /// Records the notification (log, local file) and delivers it to every channel. Never fails.
    pub async fn send_notification(&self, n: &Notification) {
        if let Err(e) = self.ports.notifier.notify(n).await {
            tracing::warn!(error = %e, "notification not recorded: {}", n.text);
        }
        for channel in &self.ports.channels {
            if let Err(e) = self.deliver(channel.clone(), n, 1).await {
                tracing::warn!(channel = %channel.target(), error = %e, "notification delivery not recorded");
            }
        }
    }

    /// One try of one delivery; a failure another try may fix schedules the next try as a message.
    async fn deliver(
        &self,
        channel: Arc<dyn Notifier>,
        n: &Notification,
        attempt: u32,
    ) -> Result<(), AppError> {
        let target = channel.target();
        let id = delivery_id(n, &target);
        let key = delivery_key(&n.run, &id);
        let existing = self.repo.get_json::<DeliveryRecord>(&key).await?;
        if let Some((r, _)) = &existing {
            // Delivered or given up, or this try was made already: a repeat sends nothing.
            if r.outcome != "pending" || r.attempts >= attempt {
                return Ok(());
            }
        }
        let now = self.now();
        let mut rec = DeliveryRecord {
            id: id.clone(),
            run: n.run.clone(),
            product: n.product.clone(),
            environment: n.environment.clone(),
            kind: notice::kind_name(&n.kind).to_string(),
            target: target.clone(),
            event_at: n.details.event_at.unwrap_or(now),
            delivered_at: None,
            attempts: attempt,
            outcome: "pending".into(),
            delay_ms: None,
            error: None,
        };
        match channel.notify(n).await {
            Ok(()) => {
                let at = self.now();
                rec.delivered_at = Some(at);
                rec.delay_ms = Some((at - rec.event_at).num_milliseconds());
                rec.outcome = "delivered".into();
            }
            Err(e) if e.is_retryable() && attempt < MAX_DELIVERY_ATTEMPTS => {
                rec.error = Some(e.to_string());
                let at = now + backoff(attempt);
                let body = RetryMessage {
                    schema: RETRY_SCHEMA.into(),
                    target: target.clone(),
                    attempt: attempt + 1,
                    notification: n.clone(),
                };
                // Scheduled before the record says so: a crash in between leaves a retry that finds the record
                // one try behind, not a record waiting for a retry that was never sent.
                let sent = self
                    .ports
                    .bus
                    .send(OutboundMessage {
                        queue: NOTIFICATIONS_QUEUE.into(),
                        body: serde_json::to_string(&body).expect("serializable"),
                        message_id: format!("{id}-{}", attempt + 1),
                        correlation_id: Some(n.run.clone()),
                        scheduled_at: Some(at),
                    })
                    .await;
                if let Err(se) = sent {
                    rec.outcome = "failed".into();
                    rec.error = Some(format!("{e}; the retry could not be scheduled: {se}"));
                }
            }
            Err(e) => {
                rec.outcome = "failed".into();
                rec.error = Some(e.to_string());
            }
        }
        if rec.outcome == "failed" {
            self.repo.index_failed_delivery(&key).await?;
            tracing::warn!(channel = %target, run = %n.run, error = ?rec.error, "notification not delivered");
        }
        // Before the record: a crash in between repeats the try and the event (at least once; the portal's tile
        // keeps one event per delivery id), where the other order could lose the event for good.
        if rec.outcome != "pending" {
            telemetry::emit(telemetry::NOTIFICATION_FINISHED, rec.event_fields());
        }
        self.repo.put_json(&key, &rec, Precondition::None).await?;
        Ok(())
    }

    /// The `notification-retry` function: one more try of a delivery. A message that can never be delivered (not
    /// JSON, a channel no longer configured) is recorded as rejected.
    pub async fn notification_retry(
        &self,
        message_id: &str,
        body: &str,
    ) -> Result<Outputs, AppError> {
        let mut out = Outputs::default();
        let msg = match serde_json::from_str::<RetryMessage>(body) {
            Ok(m) if m.schema == RETRY_SCHEMA => m,
            Ok(m) => {
                let why = Rejection {
                    reason: format!("schema {:?}: expected {RETRY_SCHEMA}", m.schema),
                };
                self.reject(NOTIFICATIONS_QUEUE, message_id, body, &why, &mut out)
                    .await?;
                return Ok(out);
            }
            Err(e) => {
                let why = Rejection {
                    reason: format!("not a notification retry: {e}"),
                };
                self.reject(NOTIFICATIONS_QUEUE, message_id, body, &why, &mut out)
                    .await?;
                return Ok(out);
            }
        };
        let Some(channel) = self
            .ports
            .channels
            .iter()
            .find(|c| c.target() == msg.target)
        else {
            let why = Rejection {
                reason: format!("no notification channel {:?} is configured (NIGHTSHIFT_NOTIFY_WEBHOOKS changed?)", msg.target),
            };
            self.reject(NOTIFICATIONS_QUEUE, message_id, body, &why, &mut out)
                .await?;
            return Ok(out);
        };
        self.deliver(channel.clone(), &msg.notification, msg.attempt.max(1))
            .await?;
        out.log(format!(
            "notification {} try {} to {}",
            delivery_id(&msg.notification, &msg.target),
            msg.attempt,
            msg.target
        ));
        Ok(out)
    }

    /// Every delivery record, oldest run first.
    pub async fn deliveries(&self) -> Result<Vec<DeliveryRecord>, AppError> {
        let mut out = Vec::new();
        for key in self.ports.store.list("notifications/").await? {
            if let Some((r, _)) = self.repo.get_json::<DeliveryRecord>(&key).await? {
                out.push(r);
            }
        }
        Ok(out)
    }
}

fn fill_from_run(d: &mut Details, kind: &NotificationKind, run: &Run, now: DateTime<Utc>) {
    match &run.trigger {
        Trigger::Release {
            version,
            requested_by,
            ..
        } => {
            d.version.get_or_insert(version.clone());
            d.requested_by.get_or_insert(requested_by.clone());
        }
        Trigger::Rollback {
            version,
            requested_by,
            ..
        } => {
            d.version.get_or_insert(version.clone());
            d.requested_by.get_or_insert(requested_by.clone());
        }
        Trigger::Teardown { requested_by, .. } => {
            d.version.get_or_insert("teardown".into());
            d.requested_by.get_or_insert(requested_by.clone());
        }
        Trigger::Nightly { night, .. } => {
            d.version.get_or_insert(format!("nightly {night}"));
            d.requested_by.get_or_insert("the nightly schedule".into());
        }
    }
    match kind {
        NotificationKind::RunSucceeded => {
            d.duration_secs.get_or_insert(run.duration_secs(now));
            if d.expires_at.is_none() {
                d.expires_at = run.expires_at;
            }
            for (step, outputs) in run.outputs() {
                for (name, v) in outputs {
                    if let Some(url) = is_url(&v) {
                        let label = if d.urls.contains_key(&name) {
                            format!("{step}.{name}")
                        } else {
                            name
                        };
                        d.urls.insert(label, url.to_string());
                    }
                }
            }
        }
        NotificationKind::RunFailed => {
            d.duration_secs.get_or_insert(run.duration_secs(now));
            if d.reason.is_none() {
                d.reason = run.reason.clone();
            }
            d.next.get_or_insert_with(|| {
                format!(
                    "read the failed step's log (`nightshift status --json`, run {}), fix the cause, then send the release again",
                    run.id
                )
            });
        }
        NotificationKind::StepFailed => {
            d.next
                .get_or_insert("the run fails once its other steps end; nothing to do yet".into());
        }
        _ => {}
    }
}
