//! The official credentials (`azure_identity`) behind the adapters' token seam, and Key Vault.
//!
//! `azure_identity` cannot be pointed at a loopback server for IMDS (its address is fixed) nor for Entra ID (its
//! authority must be HTTPS), so those contracts are tested on the requests the credentials send through this
//! crate's HTTP transport, answered with the documented shapes:
//! - managed identity inside Container Instances: IMDS, `GET http://169.254.169.254/metadata/identity/oauth2/token`
//!   with `Metadata: true`, `resource` and the user-assigned `client_id`; the answer's `expires_on` is a string;
//! - workload identity federation (GitHub OIDC): `POST https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token`,
//!   a form with the federated token as `client_assertion`.
//!
//! The App Service endpoint (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`, read from the process environment by the crate)
//! is tested on a real loopback server from a child process: crates/cli/tests/azure_mode.rs. The Azure CLI credential
//! runs `az` from `PATH`: tests/azure_cli_credential.rs, a binary of its own because it changes `PATH`.

use crate::fake_arm::spawn_fake_arm;
use async_trait::async_trait;
use nightshift_azure::identity::{ARM_RESOURCE, VAULT_RESOURCE};
use nightshift_azure::{
    Credential, CredentialKind, HttpRequest, HttpResponse, HttpTransport, KeyVaultSecrets,
    StaticToken, TokenProvider, TransportError,
};
use nightshift_core::ports::{PortError, Secrets};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// How a [`Capture`] answers the n-th request (from 1): status and JSON body.
type Answer = Box<dyn Fn(&HttpRequest, usize) -> (u16, Value) + Send + Sync>;

/// Answers every request with its [`Answer`] and keeps what was sent.
struct Capture {
    requests: Mutex<Vec<HttpRequest>>,
    answer: Answer,
}

impl Capture {
    fn new(
        answer: impl Fn(&HttpRequest, usize) -> (u16, Value) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            requests: Mutex::new(Vec::new()),
            answer: Box::new(answer),
        })
    }
    fn sent(&self) -> Vec<HttpRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait]
impl HttpTransport for Capture {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let n = {
            let mut r = self.requests.lock().unwrap();
            r.push(request.clone());
            r.len()
        };
        let (status, body) = (self.answer)(&request, n);
        Ok(HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        })
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn query(r: &HttpRequest) -> std::collections::HashMap<String, String> {
    url::Url::parse(&r.url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The documented IMDS answer: `expires_on` as a string of epoch seconds.
fn imds_token(r: &HttpRequest, n: usize, ttl: u64) -> (u16, Value) {
    let resource = query(r).get("resource").cloned().unwrap_or_default();
    (
        200,
        json!({"access_token": format!("mi-token-{n}"), "expires_on": (now() + ttl).to_string(),
               "expires_in": ttl.to_string(), "resource": resource, "token_type": "Bearer"}),
    )
}

/// The crate picks the App Service endpoint when the process has `IDENTITY_ENDPOINT`: these tests need IMDS.
fn imds_applies() -> bool {
    if std::env::var_os("IDENTITY_ENDPOINT").is_some() {
        eprintln!("SKIPPED: IDENTITY_ENDPOINT is set in this process, so the credential would not use IMDS");
        return false;
    }
    true
}

#[tokio::test]
async fn contract_managed_identity_in_container_instances_asks_imds_once_per_resource_for_its_client_id(
) {
    if !imds_applies() {
        return;
    }
    let http = Capture::new(|r, n| imds_token(r, n, 3600));
    let mi = Credential::new(
        CredentialKind::ManagedIdentity {
            client_id: Some("client-1".into()),
        },
        http.clone(),
    );

    let a = mi.token(ARM_RESOURCE).await.unwrap();
    let b = mi.token(ARM_RESOURCE).await.unwrap();
    let v = mi.token(VAULT_RESOURCE).await.unwrap();

    assert_eq!(
        a.expose(),
        b.expose(),
        "the second call is served from the cache"
    );
    assert_ne!(a.expose(), v.expose());
    let sent = http.sent();
    assert_eq!(sent.len(), 2, "one fetch per resource: {sent:?}");
    let first = &sent[0];
    assert_eq!(first.method, "GET");
    assert!(
        first
            .url
            .starts_with("http://169.254.169.254/metadata/identity/oauth2/token?"),
        "{first:?}"
    );
    assert_eq!(first.header("metadata"), Some("true"));
    let q = query(first);
    assert_eq!(q["client_id"], "client-1");
    assert_eq!(q["resource"], "https://management.azure.com");
    assert!(q.contains_key("api-version"), "{q:?}");
    assert_eq!(query(&sent[1])["resource"], "https://vault.azure.net");
    assert!(
        !format!("{a:?} {mi:?}").contains("mi-token"),
        "tokens never print"
    );
}

/// A machine that is not an Azure resource: no identity endpoint to connect to, however often it is asked.
#[derive(Default)]
struct NoIdentityEndpoint {
    attempts: Mutex<usize>,
}

#[async_trait]
impl HttpTransport for NoIdentityEndpoint {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        *self.attempts.lock().unwrap() += 1;
        Err(TransportError(format!(
            "connect error for {}: Network is unreachable (os error 101)",
            request.url.split('?').next().unwrap_or_default()
        )))
    }
}

// Paused time: the credential's retry delays (up to 72 s in all, the IMDS guidance) pass at once, so the test
// counts attempts instead of waiting for them.
#[tokio::test(start_paused = true)]
async fn contract_off_azure_a_managed_identity_fails_at_the_first_refused_connection_and_says_what_to_set(
) {
    if !imds_applies() {
        return;
    }
    let http = Arc::new(NoIdentityEndpoint::default());
    let mi = Credential::new(
        CredentialKind::ManagedIdentity { client_id: None },
        http.clone(),
    );

    let err = mi.token(ARM_RESOURCE).await.unwrap_err();

    assert_eq!(
        *http.attempts.lock().unwrap(),
        1,
        "no connection to an identity endpoint is not retried: {err}"
    );
    assert!(matches!(err, PortError::Permanent(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("no managed identity endpoint"), "{text}");
    assert!(text.contains("Network is unreachable"), "{text}");
    assert!(
        text.contains("outside Azure set NIGHTSHIFT_CREDENTIAL=azure-cli"),
        "{text}"
    );
}

#[tokio::test]
async fn contract_a_managed_identity_token_within_five_minutes_of_expiry_is_fetched_again() {
    if !imds_applies() {
        return;
    }
    let http = Capture::new(|r, n| imds_token(r, n, 240));
    let mi = Credential::new(
        CredentialKind::ManagedIdentity { client_id: None },
        http.clone(),
    );

    let a = mi.token(ARM_RESOURCE).await.unwrap();
    let b = mi.token(ARM_RESOURCE).await.unwrap();

    assert_ne!(a.expose(), b.expose());
    assert_eq!(http.sent().len(), 2);
    assert!(
        !query(&http.sent()[0]).contains_key("client_id"),
        "the system-assigned identity"
    );
}

#[tokio::test]
async fn contract_an_identity_the_resource_does_not_have_is_a_permanent_error_that_says_what_to_check(
) {
    if !imds_applies() {
        return;
    }
    // IMDS answers 400 when the requested identity is not assigned to the resource.
    let http = Capture::new(|_, _| {
        (
            400,
            json!({"error": "invalid_request", "error_description": "Identity not found"}),
        )
    });
    let mi = Credential::new(
        CredentialKind::ManagedIdentity {
            client_id: Some("not-assigned".into()),
        },
        http.clone(),
    );

    let err = mi.token(ARM_RESOURCE).await.unwrap_err();

    assert!(matches!(err, PortError::Permanent(_)), "{err:?}");
    assert!(
        err.to_string().contains("NIGHTSHIFT_IDENTITY_CLIENT_ID"),
        "{err}"
    );
    assert_eq!(http.sent().len(), 1, "a refusal is not retried");
}

#[tokio::test]
async fn contract_workload_identity_exchanges_the_federated_token_file_for_an_entra_token() {
    // The OIDC token a GitHub job writes to AZURE_FEDERATED_TOKEN_FILE.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("oidc-token");
    std::fs::write(&file, "github-oidc-jwt-value").unwrap();
    let http = Capture::new(|_, n| {
        (
            200,
            json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                   "access_token": format!("entra-token-{n}")}),
        )
    });
    let wi = Credential::new(
        CredentialKind::WorkloadIdentity {
            tenant_id: "00000000-0000-0000-0000-00000000aaaa".into(),
            client_id: "ci-client".into(),
            token_file: file,
        },
        http.clone(),
    );

    let a = wi.token(ARM_RESOURCE).await.unwrap();
    let again = wi.token(ARM_RESOURCE).await.unwrap();

    assert_eq!(a.expose(), "entra-token-1");
    assert_eq!(again.expose(), a.expose());
    let sent = http.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].method, "POST");
    assert_eq!(
        sent[0].url,
        "https://login.microsoftonline.com/00000000-0000-0000-0000-00000000aaaa/oauth2/v2.0/token"
    );
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&sent[0].body)
            .into_owned()
            .collect();
    assert_eq!(form["client_assertion"], "github-oidc-jwt-value");
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert_eq!(form["client_id"], "ci-client");
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "https://management.azure.com/.default");
}

#[tokio::test]
async fn a_missing_federated_token_file_is_a_permanent_error_naming_the_setting() {
    let http = Capture::new(|_, _| (500, json!({})));
    let wi = Credential::new(
        CredentialKind::WorkloadIdentity {
            tenant_id: "00000000-0000-0000-0000-00000000aaaa".into(),
            client_id: "ci-client".into(),
            token_file: "/nonexistent/oidc-token".into(),
        },
        http.clone(),
    );

    let err = wi.token(ARM_RESOURCE).await.unwrap_err();

    assert!(matches!(err, PortError::Permanent(_)), "{err:?}");
    assert!(
        err.to_string().contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{err}"
    );
    assert!(
        http.sent().is_empty(),
        "nothing is asked of Entra without a token"
    );
}

#[tokio::test]
async fn contract_key_vault_secrets_are_read_by_name_with_a_vault_token() {
    let fake = spawn_fake_arm().await;
    fake.set(|s| {
        s.secrets.insert("sql-admin".into(), "p@ss-value".into());
    });
    let kv = KeyVaultSecrets::new(&fake.base, Arc::new(StaticToken::new("kv-token")));

    let value = kv.get("sql-admin").await.unwrap();
    let missing = kv.get("nope").await.unwrap_err();

    assert_eq!(value.expose(), "p@ss-value");
    assert!(!format!("{value:?}").contains("p@ss"));
    assert!(matches!(missing, PortError::Permanent(_)));
    let call = &fake.requests_to("GET", "/secrets/sql-admin")[0];
    assert_eq!(call.query, "api-version=7.4");
    assert_eq!(call.headers["authorization"], "Bearer kv-token");
}
