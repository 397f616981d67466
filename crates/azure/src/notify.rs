//! The `Notifier` port over HTTP: a Slack, Teams (Workflows) or generic webhook, each in its own payload format
//! (rendered by `nightshift_core::notice`), and the structured `tracing` event every notification also is, which
//! Application Insights can chart. Local mode posts to webhooks with the same adapter (URL from the local vault).
//!
//! The webhook URL is a credential (whoever has it can post to the channel), so it lives in Key Vault: the setting
//! names the secret, the URL is read through the `Secrets` port at the first notification and cached. It never
//! appears in `Debug` output, a log line or an error message (reqwest errors are stripped of their URL).

use async_trait::async_trait;
use nightshift_core::engine::Notification;
use nightshift_core::notice::{self, Format};
use nightshift_core::ports::{Notifier, PortError, SecretValue, Secrets};
use std::fmt;
use std::sync::Arc;
use tokio::sync::Mutex;

pub use nightshift_core::notice::kind_name;

/// Writes every notification as one `tracing` event with structured fields (`run`, `product`, `environment`,
/// `kind`), target `nightshift::notification`.
fn trace(n: &Notification) {
    tracing::info!(
        target: "nightshift::notification",
        run = %n.run,
        product = %n.product,
        environment = %n.environment,
        kind = kind_name(&n.kind),
        "{}",
        n.text
    );
}

/// The notifier when no webhook is configured: the log event only.
#[derive(Debug, Clone, Default)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, notification: &Notification) -> Result<(), PortError> {
        trace(notification);
        Ok(())
    }
}

/// Posts a notification to a webhook in its format: Slack Block Kit, a Teams Adaptive Card in the Workflows
/// envelope (Teams Workflows webhooks take cards only, not `{"text"}`), or generic JSON.
pub struct WebhookNotifier {
    secrets: Arc<dyn Secrets>,
    secret_name: String,
    format: Format,
    http: reqwest::Client,
    url: Mutex<Option<SecretValue>>,
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("secret_name", &self.secret_name)
            .finish_non_exhaustive()
    }
}

impl WebhookNotifier {
    /// `secret_name` is the Key Vault secret holding the webhook URL. Performs no I/O.
    pub fn new(secrets: Arc<dyn Secrets>, secret_name: impl Into<String>, format: Format) -> Self {
        Self {
            secrets,
            secret_name: secret_name.into(),
            format,
            http: crate::http::reqwest_client(),
            url: Mutex::new(None),
        }
    }

    async fn url(&self) -> Result<SecretValue, PortError> {
        let mut cached = self.url.lock().await;
        if let Some(u) = cached.as_ref() {
            return Ok(u.clone());
        }
        let u = self.secrets.get(&self.secret_name).await?;
        *cached = Some(u.clone());
        Ok(u)
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn target(&self) -> String {
        format!("{}:{}", self.format.as_str(), self.secret_name)
    }

    #[tracing::instrument(skip_all, fields(run = %notification.run))]
    async fn notify(&self, notification: &Notification) -> Result<(), PortError> {
        let url = self.url().await?;
        let body = notice::render(self.format, notification);
        let response = self
            .http
            .post(url.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                PortError::Transient(format!("webhook {}: {}", self.secret_name, e.without_url()))
            })?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(()),
            // A revoked or rotated webhook: read the secret again next time.
            401 | 403 | 404 | 410 => {
                *self.url.lock().await = None;
                Err(PortError::Permanent(format!(
                    "webhook {} answered {status}",
                    self.secret_name
                )))
            }
            408 | 429 | 500..=599 => Err(PortError::Transient(format!(
                "webhook {} answered {status}",
                self.secret_name
            ))),
            _ => Err(PortError::Permanent(format!(
                "webhook {} answered {status}",
                self.secret_name
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    struct OneSecret(String);

    #[async_trait]
    impl Secrets for OneSecret {
        async fn get(&self, name: &str) -> Result<SecretValue, PortError> {
            assert_eq!(name, "notify-webhook-url");
            Ok(SecretValue::new(self.0.clone()))
        }
    }

    fn notification() -> Notification {
        Notification {
            kind: nightshift_core::engine::NotificationKind::RunFailed,
            run: "shop-nightly-n20260101".into(),
            product: "shop".into(),
            environment: "nightly".into(),
            text: "shop/nightly failed at step seed".into(),
            details: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_notification_is_posted_in_the_webhooks_format_and_a_failure_never_names_the_url() {
        // Arrange: a webhook that records bodies and answers 200, then 500.
        let bodies = Arc::new(StdMutex::new(Vec::<serde_json::Value>::new()));
        let status = Arc::new(StdMutex::new(200u16));
        let app = axum::Router::new().route(
            "/hooks/{token}",
            axum::routing::post({
                let (bodies, status) = (bodies.clone(), status.clone());
                move |body: axum::Json<serde_json::Value>| async move {
                    bodies.lock().unwrap().push(body.0);
                    axum::http::StatusCode::from_u16(*status.lock().unwrap()).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hooks/secret-token-xyz",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let notifier = WebhookNotifier::new(
            Arc::new(OneSecret(url.clone())),
            "notify-webhook-url",
            Format::Teams,
        );

        // Act + Assert
        notifier.notify(&notification()).await.unwrap();
        assert_eq!(
            bodies.lock().unwrap()[0],
            notice::render(Format::Teams, &notification())
        );
        assert_eq!(notifier.target(), "teams:notify-webhook-url");
        let slack = WebhookNotifier::new(
            Arc::new(OneSecret(url)),
            "notify-webhook-url",
            Format::Slack,
        );
        slack.notify(&notification()).await.unwrap();
        assert!(bodies.lock().unwrap()[1]["blocks"].is_array());
        *status.lock().unwrap() = 500;
        let e = notifier.notify(&notification()).await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(!e.to_string().contains("secret-token-xyz"), "{e}");
        assert!(!format!("{notifier:?}").contains("secret-token-xyz"));
    }

    #[tokio::test]
    async fn an_unreachable_webhook_is_transient_and_its_error_has_no_url() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("http://127.0.0.1:{port}/hooks/secret-token-xyz");
        let notifier = WebhookNotifier::new(
            Arc::new(OneSecret(url)),
            "notify-webhook-url",
            Format::Generic,
        );
        let e = notifier.notify(&notification()).await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(!e.to_string().contains("secret-token-xyz"), "{e}");
    }
}
