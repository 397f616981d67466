//! ServiceBusBus against the REST contract: requests are captured through the SDK's HTTP client (there is no
//! Service Bus emulator here), the policy key comes from a loopback Key Vault.

use crate::fake_arm::{spawn_fake_arm, FakeArm};
use async_trait::async_trait;
use base64::Engine;
use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use nightshift_azure::{
    HttpRequest, HttpResponse, HttpTransport, KeyVaultSecrets, ServiceBusBus, StaticToken,
    TransportError,
};
use nightshift_core::ports::{Bus, OutboundMessage, PortError};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const POLICY_KEY: &str = "c2VuZC1vbmx5LXBvbGljeS1rZXktZm9yLXRlc3Rz";

#[derive(Default)]
struct Capture {
    requests: Mutex<Vec<HttpRequest>>,
    status: Mutex<Vec<u16>>,
}

#[async_trait]
impl HttpTransport for Capture {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        self.requests.lock().unwrap().push(request);
        let status = self.status.lock().unwrap().pop().unwrap_or(201);
        Ok(HttpResponse::new(status))
    }
}

/// Collects everything the tracing subscriber writes, at every level.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn message(scheduled: bool) -> OutboundMessage {
    OutboundMessage {
        queue: "steps".into(),
        body: r#"{"kind":"step-dispatch","run":"orthense.nightly.2025-01-02"}"#.into(),
        message_id: "orthense.nightly.2025-01-02/seed-sql/2".into(),
        correlation_id: Some("orthense.nightly.2025-01-02".into()),
        scheduled_at: scheduled.then(|| Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()),
    }
}

/// A bus sending through `transport`, its send key in the loopback vault `fake`, as the handler builds it.
fn bus_with_key_in(fake: &FakeArm, transport: Arc<dyn HttpTransport>) -> ServiceBusBus {
    fake.set(|s| {
        s.secrets.insert("sb-send-key".into(), POLICY_KEY.into());
    });
    let secrets = Arc::new(KeyVaultSecrets::new(
        &fake.base,
        Arc::new(StaticToken::new("t")),
    ));
    ServiceBusBus::new(
        "contoso-ns",
        "nightshift-send",
        "sb-send-key",
        secrets,
        transport,
    )
}

#[tokio::test]
async fn contract_sends_carry_broker_properties_and_a_send_only_sas_whose_key_comes_from_key_vault()
{
    let fake = spawn_fake_arm().await;
    fake.set(|s| {
        s.secrets.insert("sb-send-key".into(), POLICY_KEY.into());
    });
    let capture = Arc::new(Capture::default());
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer({
            let logs = logs.clone();
            move || logs.clone()
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let secrets = Arc::new(KeyVaultSecrets::new(
        &fake.base,
        Arc::new(StaticToken::new("kv-bearer-token")),
    ));

    let bus = ServiceBusBus::new(
        "contoso-ns.servicebus.windows.net",
        "nightshift-send",
        "sb-send-key",
        secrets,
        capture.clone(),
    );
    assert!(
        fake.requests().is_empty(),
        "constructing the bus performs no I/O"
    );
    bus.send(message(true)).await.unwrap();
    bus.send(message(false)).await.unwrap();

    assert_eq!(
        fake.requests_to("GET", "/secrets/sb-send-key").len(),
        1,
        "the key is read once and cached"
    );
    let sent = capture.requests.lock().unwrap().clone();
    assert_eq!(sent.len(), 2);
    let first = &sent[0];
    assert_eq!(first.method, "POST");
    assert_eq!(
        first.url,
        "https://contoso-ns.servicebus.windows.net/steps/messages"
    );
    assert_eq!(
        String::from_utf8(first.body.clone()).unwrap(),
        message(true).body
    );
    let props: serde_json::Value =
        serde_json::from_str(first.header("brokerproperties").unwrap()).unwrap();
    assert_eq!(props["MessageId"], "orthense.nightly.2025-01-02/seed-sql/2");
    assert_eq!(props["CorrelationId"], "orthense.nightly.2025-01-02");
    assert_eq!(
        props["ScheduledEnqueueTimeUtc"],
        "Thu, 02 Jan 2025 03:04:05 GMT"
    );
    let props: serde_json::Value =
        serde_json::from_str(sent[1].header("brokerproperties").unwrap()).unwrap();
    assert!(props.get("ScheduledEnqueueTimeUtc").is_none());

    // SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded base64 HMAC-SHA256>&se=<expiry>&skn=<policy>
    let auth = first.header("authorization").unwrap();
    let fields: HashMap<String, String> = url::form_urlencoded::parse(
        auth.strip_prefix("SharedAccessSignature ")
            .expect("a SAS token")
            .as_bytes(),
    )
    .into_owned()
    .collect();
    assert_eq!(fields["skn"], "nightshift-send");
    assert_eq!(
        fields["sr"],
        "https://contoso-ns.servicebus.windows.net/steps/messages"
    );
    let sr_encoded: String =
        url::form_urlencoded::byte_serialize(fields["sr"].as_bytes()).collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(POLICY_KEY.as_bytes()).unwrap();
    mac.update(format!("{sr_encoded}\n{}", fields["se"]).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(fields["sig"], expected, "signed with the Key Vault key");
    let se: i64 = fields["se"].parse().unwrap();
    assert!(se > Utc::now().timestamp() && se <= Utc::now().timestamp() + 3700);

    // No secret in any log line or Debug output.
    let written = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let debug = format!("{bus:?} {first:?}");
    for secret in [
        POLICY_KEY,
        expected.as_str(),
        fields["sig"].as_str(),
        "kv-bearer-token",
    ] {
        assert!(!written.contains(secret), "a secret reached the log");
        assert!(!debug.contains(secret), "a secret reached Debug: {debug}");
    }
}

#[tokio::test]
async fn contract_a_throttled_send_is_transient_and_a_401_rereads_the_key() {
    let fake = spawn_fake_arm().await;
    let capture = Arc::new(Capture::default());
    capture.status.lock().unwrap().extend([401, 503]); // popped from the end: 503 first, then 401
    let bus = bus_with_key_in(&fake, capture.clone());

    let throttled = bus.send(message(false)).await;
    let unauthorised = bus.send(message(false)).await;
    bus.send(message(false)).await.unwrap();

    assert!(
        matches!(throttled, Err(PortError::Transient(_))),
        "{throttled:?}"
    );
    assert!(
        matches!(unauthorised, Err(PortError::Transient(_))),
        "{unauthorised:?}"
    );
    assert_eq!(fake.requests_to("GET", "/secrets/sb-send-key").len(), 2);
}

/// A namespace nothing answers at: every send fails below HTTP, as a transport reports it.
struct Unreachable;

#[async_trait]
impl HttpTransport for Unreachable {
    async fn send(&self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
        Err(TransportError(
            "connect error for https://contoso-ns.servicebus.windows.net/steps/messages: connection refused"
                .into(),
        ))
    }
}

#[tokio::test]
async fn contract_a_send_that_never_reaches_the_namespace_says_why_and_is_transient() {
    let fake = spawn_fake_arm().await;
    let bus = bus_with_key_in(&fake, Arc::new(Unreachable));

    let err = bus.send(message(false)).await.unwrap_err();

    assert!(matches!(err, PortError::Transient(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("Service Bus send to steps"), "{text}");
    assert!(text.contains("connection refused"), "{text}");
}

/// A queue with duplicate detection, as documented: every send is accepted (201), and a message whose
/// BrokerProperties.MessageId was already accepted inside the window is dropped.
#[derive(Default)]
struct DeduplicatingQueue {
    seen: Mutex<Vec<String>>,
    delivered: Mutex<Vec<String>>,
}

#[async_trait]
impl HttpTransport for DeduplicatingQueue {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let props: serde_json::Value = serde_json::from_str(
            request
                .header("brokerproperties")
                .expect("BrokerProperties"),
        )
        .expect("BrokerProperties is JSON");
        let id = props["MessageId"]
            .as_str()
            .expect("a MessageId")
            .to_string();
        let mut seen = self.seen.lock().unwrap();
        if !seen.contains(&id) {
            seen.push(id);
            self.delivered
                .lock()
                .unwrap()
                .push(String::from_utf8(request.body.clone()).unwrap());
        }
        Ok(HttpResponse::new(201))
    }
}

#[tokio::test]
async fn contract_the_watchdogs_redispatch_is_not_dropped_by_duplicate_detection() {
    use nightshift_core::messages::StepMessage;
    use nightshift_core::{RunId, StepName};
    let fake = spawn_fake_arm().await;
    let queue = Arc::new(DeduplicatingQueue::default());
    let bus = bus_with_key_in(&fake, queue.clone());
    let run = RunId::parse("orthense.nightly.n20250102").unwrap();
    let step = StepName::parse("seed-sql").unwrap();
    let send = |m: StepMessage| OutboundMessage {
        queue: "steps".into(),
        body: serde_json::to_string(&m).unwrap(),
        message_id: m.message_id(),
        correlation_id: Some(run.to_string()),
        scheduled_at: None,
    };

    // The retry's scheduled dispatch (accepted, then lost), a repeat of it, and two watchdog passes.
    bus.send(send(StepMessage::new(&run, &step, 2)))
        .await
        .unwrap();
    bus.send(send(StepMessage::new(&run, &step, 2)))
        .await
        .unwrap();
    bus.send(send(StepMessage::redispatched(&run, &step, 2, 1)))
        .await
        .unwrap();
    bus.send(send(StepMessage::redispatched(&run, &step, 2, 2)))
        .await
        .unwrap();

    let delivered = queue.delivered.lock().unwrap().clone();
    assert_eq!(
        delivered.len(),
        3,
        "the repeat is dropped, each re-dispatch is delivered: {delivered:?}"
    );
    let redispatches: Vec<StepMessage> = delivered[1..]
        .iter()
        .map(|b| StepMessage::decode(b).unwrap())
        .collect();
    assert_eq!(
        redispatches
            .iter()
            .map(|m| m.redispatch)
            .collect::<Vec<_>>(),
        [1, 2]
    );
}
