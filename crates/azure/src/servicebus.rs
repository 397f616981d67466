//! The `Bus` port on Service Bus's REST send (`azure_messaging_servicebus`): a deterministic `MessageId` (duplicate
//! detection drops a repeat), the run as `CorrelationId`, and `ScheduledEnqueueTimeUtc` for retries with backoff.
//!
//! Authorisation is a SAS token of a Send-only shared access policy whose key is read from Key Vault (through the
//! `Secrets` port) on the first send and cached; a 401 drops the cached key so a rotated key is picked up.
//! Triggers and immediate outputs stay with the Functions host's bindings.

use crate::http::{AzureHttp, HttpTransport};
use async_trait::async_trait;
use azure_messaging_servicebus::service_bus::{QueueClient, SendMessageOptions};
use chrono::{DateTime, Utc};
use nightshift_core::ports::{Bus, OutboundMessage, PortError, SecretValue, Secrets};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use tokio::sync::Mutex;

pub struct ServiceBusBus {
    namespace: String,
    policy_name: String,
    key_secret_name: String,
    secrets: Arc<dyn Secrets>,
    http: Arc<dyn azure_core::HttpClient>,
    key: Mutex<Option<SecretValue>>,
}

impl fmt::Debug for ServiceBusBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceBusBus")
            .field("namespace", &self.namespace)
            .field("policy_name", &self.policy_name)
            .field("key_secret_name", &self.key_secret_name)
            .finish_non_exhaustive()
    }
}

impl ServiceBusBus {
    /// `namespace` is the short name or the fully qualified `<ns>.servicebus.windows.net`; `policy_name` a
    /// Send-only policy whose key is the Key Vault secret `key_secret_name`. Performs no I/O.
    pub fn new(
        namespace: &str,
        policy_name: impl Into<String>,
        key_secret_name: impl Into<String>,
        secrets: Arc<dyn Secrets>,
        transport: Arc<dyn HttpTransport>,
    ) -> Self {
        let namespace = namespace
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .trim_end_matches(".servicebus.windows.net")
            .to_string();
        Self {
            namespace,
            policy_name: policy_name.into(),
            key_secret_name: key_secret_name.into(),
            secrets,
            http: Arc::new(AzureHttp::new(transport)),
            key: Mutex::new(None),
        }
    }

    /// Sends to `endpoint` (`http://127.0.0.1:PORT`) instead of `https://<namespace>.servicebus.windows.net`: a
    /// loopback server following the REST contract, in tests. The SAS still signs the namespace's address.
    pub fn with_endpoint(mut self, endpoint: &str, transport: Arc<dyn HttpTransport>) -> Self {
        let rebased = Rebased {
            from: format!("https://{}.servicebus.windows.net", self.namespace),
            to: endpoint.trim_end_matches('/').to_string(),
            inner: transport,
        };
        self.http = Arc::new(AzureHttp::new(Arc::new(rebased)));
        self
    }

    async fn key(&self) -> Result<SecretValue, PortError> {
        let mut cached = self.key.lock().await;
        if let Some(k) = cached.as_ref() {
            return Ok(k.clone());
        }
        let key = self.secrets.get(&self.key_secret_name).await?;
        *cached = Some(key.clone());
        Ok(key)
    }
}

/// Rewrites the namespace's base address to another server's.
struct Rebased {
    from: String,
    to: String,
    inner: Arc<dyn HttpTransport>,
}

#[async_trait]
impl HttpTransport for Rebased {
    async fn send(
        &self,
        mut request: crate::http::HttpRequest,
    ) -> Result<crate::http::HttpResponse, crate::http::TransportError> {
        if let Some(rest) = request.url.strip_prefix(&self.from) {
            request.url = format!("{}{rest}", self.to);
        }
        self.inner.send(request).await
    }
}

/// `BrokerProperties` as the REST API documents it: RFC 1123 dates in GMT. (The SDK's own struct writes `+0000`.)
pub fn broker_properties(message: &OutboundMessage) -> String {
    let mut props = serde_json::Map::new();
    props.insert("MessageId".into(), message.message_id.clone().into());
    if let Some(c) = &message.correlation_id {
        props.insert("CorrelationId".into(), c.clone().into());
    }
    if let Some(at) = message.scheduled_at {
        props.insert("ScheduledEnqueueTimeUtc".into(), rfc1123(at).into());
    }
    serde_json::Value::Object(props).to_string()
}

fn rfc1123(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[async_trait]
impl Bus for ServiceBusBus {
    #[tracing::instrument(skip_all, fields(queue = %message.queue, message_id = %message.message_id))]
    async fn send(&self, message: OutboundMessage) -> Result<(), PortError> {
        let key = self.key().await?;
        let client = QueueClient::new(
            self.http.clone(),
            self.namespace.clone(),
            message.queue.clone(),
            self.policy_name.clone(),
            key.expose().to_string(),
        )
        .map_err(|e| PortError::Permanent(format!("Service Bus client: {e}")))?;
        let options = SendMessageOptions {
            content_type: Some("application/json".into()),
            broker_properties: None,
            custom_properties: Some(HashMap::from([(
                "brokerproperties".to_string(),
                broker_properties(&message),
            )])),
        };
        match client.send_message(&message.body, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let status = crate::http::sdk_status(&e);
                let msg = match status {
                    Some(s) => format!("Service Bus send to {} answered {s}", message.queue),
                    None => format!(
                        "Service Bus send to {} failed: {}",
                        message.queue,
                        crate::http::sdk_error_text(&e)
                    ),
                };
                match status {
                    Some(401) => {
                        // The key may have been rotated: read it again next time.
                        *self.key.lock().await = None;
                        Err(PortError::Transient(msg))
                    }
                    Some(s) if s == 429 || s == 408 || s >= 500 => Err(PortError::Transient(msg)),
                    Some(_) => Err(PortError::Permanent(msg)),
                    None => Err(PortError::Transient(msg)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn broker_properties_carry_ids_and_an_rfc1123_schedule() {
        let m = OutboundMessage {
            queue: "steps".into(),
            body: "{}".into(),
            message_id: "run/step/2".into(),
            correlation_id: Some("run".into()),
            scheduled_at: Some(Utc.with_ymd_and_hms(1994, 11, 6, 8, 49, 37).unwrap()),
        };
        let v: serde_json::Value = serde_json::from_str(&broker_properties(&m)).unwrap();
        assert_eq!(v["MessageId"], "run/step/2");
        assert_eq!(v["CorrelationId"], "run");
        assert_eq!(
            v["ScheduledEnqueueTimeUtc"],
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }
}
