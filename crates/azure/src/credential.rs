//! Tokens from the official `azure_identity` credentials (1.x) behind this crate's [`TokenProvider`]:
//!
//! | `NIGHTSHIFT_CREDENTIAL` | credential | where |
//! | --- | --- | --- |
//! | `managed-identity` (default) | `ManagedIdentityCredential` | the Function App (App Service endpoint, `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`), the runner in Container Instances (IMDS) |
//! | `azure-cli` | `AzureCliCredential` | a workstation after `az login`; a pipeline logged in with `azure/login` |
//! | `workload-identity` | `WorkloadIdentityCredential` | CI with workload identity federation (GitHub OIDC): `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE` |
//!
//! `azure_identity` depends on `azure_core` 1.x, another crate than the `azure_core` 0.21 the Blob and Service Bus
//! crates use; none of their types leaves this module. Their HTTP goes through this crate's [`HttpTransport`]
//! (reqwest 0.12 with rustls), so no second HTTP stack is built and tests can capture what a credential sends.
//!
//! A credential is built at its first token, not when the adapters are: building performs no I/O (the workload
//! identity credential reads its token file when built). Tokens are cached per resource until five minutes before
//! they expire; one fetch at a time.

use crate::http::{HttpRequest, HttpTransport};
use crate::identity::{now_secs, AccessToken, TokenProvider};
use async_trait::async_trait;
use azure_core_v1::credentials::TokenCredential;
use azure_core_v1::error::{Error as SdkError, ErrorKind};
use azure_core_v1::http::{
    headers::Headers, AsyncRawResponse, Body, ClientOptions, HttpClient, Request, StatusCode,
    Transport,
};
use nightshift_core::ports::PortError;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{Mutex, OnceCell};

/// Which credential, with what it needs. Nothing here is a secret: the federated token stays in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialKind {
    /// The platform's managed identity; `client_id` selects a user-assigned one.
    ManagedIdentity { client_id: Option<String> },
    /// The Azure CLI's login (`az account get-access-token`, `az` on `PATH`).
    AzureCli,
    /// Entra workload identity federation: a client assertion read from `token_file`.
    WorkloadIdentity {
        tenant_id: String,
        client_id: String,
        token_file: PathBuf,
    },
}

impl CredentialKind {
    /// How a person names it: `managed identity`, `Azure CLI`, `workload identity`.
    pub fn name(&self) -> &'static str {
        match self {
            CredentialKind::ManagedIdentity { .. } => "managed identity",
            CredentialKind::AzureCli => "Azure CLI",
            CredentialKind::WorkloadIdentity { .. } => "workload identity",
        }
    }

    /// What the person reading the error does next.
    fn fix(&self) -> &'static str {
        match self {
            CredentialKind::ManagedIdentity { .. } => {
                "check that the identity is assigned to this resource and that NIGHTSHIFT_IDENTITY_CLIENT_ID (or \
                 AZURE_CLIENT_ID) is its client id; outside Azure set NIGHTSHIFT_CREDENTIAL=azure-cli"
            }
            CredentialKind::AzureCli => {
                "install the Azure CLI (`az` on PATH) and run `az login`, or set NIGHTSHIFT_CREDENTIAL"
            }
            CredentialKind::WorkloadIdentity { .. } => {
                "check AZURE_FEDERATED_TOKEN_FILE (a fresh OIDC token), AZURE_CLIENT_ID, AZURE_TENANT_ID and the \
                 identity's federated credential (its subject must match this pipeline)"
            }
        }
    }
}

/// An `azure_identity` credential as a [`TokenProvider`].
pub struct Credential {
    kind: CredentialKind,
    transport: Arc<dyn HttpTransport>,
    built: OnceCell<Arc<dyn TokenCredential>>,
    cache: Mutex<HashMap<String, AccessToken>>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Performs no I/O: the credential is built at the first token.
    pub fn new(kind: CredentialKind, transport: Arc<dyn HttpTransport>) -> Self {
        Self {
            kind,
            transport,
            built: OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn kind(&self) -> &CredentialKind {
        &self.kind
    }

    fn client_options(&self) -> ClientOptions {
        ClientOptions {
            transport: Some(Transport::new(Arc::new(SdkHttp {
                transport: self.transport.clone(),
                no_answer_is_final: matches!(self.kind, CredentialKind::ManagedIdentity { .. }),
            }))),
            ..Default::default()
        }
    }

    fn build(&self) -> azure_core_v1::Result<Arc<dyn TokenCredential>> {
        use azure_identity::*;
        Ok(match &self.kind {
            CredentialKind::ManagedIdentity { client_id } => {
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                    client_options: self.client_options(),
                }))?
            }
            CredentialKind::AzureCli => AzureCliCredential::new(None)?,
            CredentialKind::WorkloadIdentity {
                tenant_id,
                client_id,
                token_file,
            } => WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: self.client_options(),
                },
                client_id: Some(client_id.clone()),
                tenant_id: Some(tenant_id.clone()),
                token_file_path: Some(token_file.clone()),
            }))?,
        })
    }

    async fn fetch(&self, resource: &str) -> Result<AccessToken, PortError> {
        let credential = self
            .built
            .get_or_try_init(|| async { self.build() })
            .await
            .map_err(|e| self.port_error(resource, &e))?;
        let scope = scope_of(resource);
        let token = credential
            .get_token(&[scope.as_str()], None)
            .await
            .map_err(|e| self.port_error(resource, &e))?;
        let expires_on = u64::try_from(token.expires_on.unix_timestamp()).unwrap_or(0);
        Ok(AccessToken::new(token.token.secret(), Some(expires_on)))
    }

    fn port_error(&self, resource: &str, e: &SdkError) -> PortError {
        let msg = format!(
            "{} credential gave no token for {resource}: {}; {}",
            self.kind.name(),
            crate::identity::truncate(crate::http::error_chain(e).trim(), 1000),
            self.kind.fix()
        );
        if transient(e) {
            PortError::Transient(msg)
        } else {
            PortError::Permanent(msg)
        }
    }
}

/// The v2 scope of a v1 resource (audience): `https://vault.azure.net` -> `https://vault.azure.net/.default`.
pub(crate) fn scope_of(resource: &str) -> String {
    format!("{}/.default", resource.trim_end_matches('/'))
}

/// An unreachable endpoint, a throttle or a server error somewhere in the error's chain is worth another try; a
/// refusal (no identity, not logged in, a bad assertion) is not.
fn transient(e: &SdkError) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(sdk) = err.downcast_ref::<SdkError>() {
            match sdk.kind() {
                ErrorKind::Io | ErrorKind::Connection => return true,
                ErrorKind::HttpResponse { status, .. } => {
                    let code = u16::from(*status);
                    if code == 429 || code >= 500 {
                        return true;
                    }
                }
                _ => {}
            }
        }
        next = err.source();
    }
    false
}

#[async_trait]
impl TokenProvider for Credential {
    #[tracing::instrument(skip_all, fields(resource))]
    async fn token(&self, resource: &str) -> Result<AccessToken, PortError> {
        // One fetch at a time: concurrent callers wait for the first instead of all asking the endpoint.
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.get(resource) {
            if t.fresh_at(now_secs()) {
                return Ok(t.clone());
            }
        }
        let token = self.fetch(resource).await?;
        tracing::debug!(
            credential = self.kind.name(),
            expires_on = token.expires_on(),
            "fetched a token"
        );
        cache.insert(resource.to_string(), token.clone());
        Ok(token)
    }
}

/// Plugs an [`HttpTransport`] into `azure_core` 1.x (the credentials' token requests).
struct SdkHttp {
    transport: Arc<dyn HttpTransport>,
    /// A managed identity's endpoint is on the machine itself (IMDS, the App Service endpoint): when nothing
    /// answers there, this is not an Azure resource with an identity, and the SDK's retries (up to 72 s, for an
    /// endpoint that answers 410 or 429 while a VM starts) would only delay saying so. Statuses are still retried.
    no_answer_is_final: bool,
}

impl fmt::Debug for SdkHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SdkHttp")
    }
}

#[async_trait]
impl HttpClient for SdkHttp {
    async fn execute_request(&self, request: &Request) -> azure_core_v1::Result<AsyncRawResponse> {
        let body = match request.body() {
            Body::Bytes(b) => b.to_vec(),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(SdkError::with_message(
                    ErrorKind::Other,
                    "streaming request bodies are not supported by this transport",
                ))
            }
        };
        let ours = HttpRequest {
            method: request.method().as_str().to_string(),
            url: request.url().to_string(),
            headers: request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.as_str().to_string()))
                .collect(),
            body,
        };
        let response = self.transport.send(ours).await.map_err(|e| {
            if self.no_answer_is_final && e.is_no_answer() {
                SdkError::with_message(
                    ErrorKind::Other,
                    format!("no managed identity endpoint answered ({})", e.0),
                )
            } else {
                SdkError::with_message(ErrorKind::Io, e.0)
            }
        })?;
        let mut headers = Headers::new();
        for (k, v) in response.headers {
            headers.insert(k.to_ascii_lowercase(), v);
        }
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::from(response.status),
            headers,
            response.body,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_becomes_its_default_scope_with_one_slash() {
        assert_eq!(
            scope_of("https://management.azure.com/"),
            "https://management.azure.com/.default"
        );
        assert_eq!(
            scope_of("https://vault.azure.net"),
            "https://vault.azure.net/.default"
        );
    }

    #[test]
    fn a_connection_failure_is_transient_and_a_refusal_is_not() {
        let io = SdkError::with_message(ErrorKind::Io, "connect error");
        let wrapped = SdkError::with_error(ErrorKind::Credential, io, "authentication failed");
        assert!(transient(&wrapped));
        let refused = SdkError::with_message(ErrorKind::Credential, "Please run 'az login'");
        assert!(!transient(&refused));
    }
}
