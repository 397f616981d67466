//! Access tokens: managed identity (the Functions/App Service endpoint, or IMDS inside Container Instances) and a
//! static token for development. Tokens are cached per resource until five minutes before they expire, and are
//! wrapped so that they cannot be printed.

use async_trait::async_trait;
use nightshift_core::ports::PortError;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// The public ARM endpoint's token audience.
pub const ARM_RESOURCE: &str = "https://management.azure.com/";
/// Key Vault's token audience.
pub const VAULT_RESOURCE: &str = "https://vault.azure.net";
/// Blob Storage's token audience.
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com/";

/// How long before its expiry a cached token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A bearer token: `Debug` prints `***`; [`AccessToken::expose`] is for the `Authorization` header only.
#[derive(Clone)]
pub struct AccessToken {
    value: String,
    /// Seconds since the epoch; `None` for a static token.
    expires_on: Option<u64>,
}

impl AccessToken {
    pub fn new(value: impl Into<String>, expires_on: Option<u64>) -> Self {
        Self {
            value: value.into(),
            expires_on,
        }
    }
    pub fn expose(&self) -> &str {
        &self.value
    }
    pub fn expires_on(&self) -> Option<u64> {
        self.expires_on
    }
    pub(crate) fn fresh_at(&self, now: u64) -> bool {
        match self.expires_on {
            None => true,
            Some(exp) => now + REFRESH_MARGIN.as_secs() < exp,
        }
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"***")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// Gives a token for a resource (audience) such as [`ARM_RESOURCE`].
#[async_trait]
pub trait TokenProvider: Send + Sync {
    async fn token(&self, resource: &str) -> Result<AccessToken, PortError>;
}

/// One token for every resource: for tests and for pointing the ARM adapters at another server.
pub struct StaticToken(AccessToken);

impl StaticToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(AccessToken::new(token, None))
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(***)")
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self, _resource: &str) -> Result<AccessToken, PortError> {
        Ok(self.0.clone())
    }
}

#[derive(Clone)]
enum Endpoint {
    /// Functions / App Service: `GET $IDENTITY_ENDPOINT?resource=..&api-version=2019-08-01` with
    /// `X-IDENTITY-HEADER`.
    AppService { url: String, header: crate::Secret },
    /// IMDS: `GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=..` with
    /// `Metadata: true`.
    Imds { url: String },
}

/// The default IMDS token URL.
pub const IMDS_TOKEN_URL: &str = "http://169.254.169.254/metadata/identity/oauth2/token";

/// Managed identity tokens, cached per resource.
pub struct ManagedIdentity {
    endpoint: Endpoint,
    client_id: Option<String>,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, AccessToken>>,
}

impl fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, url) = match &self.endpoint {
            Endpoint::AppService { url, .. } => ("app-service", url),
            Endpoint::Imds { url } => ("imds", url),
        };
        f.debug_struct("ManagedIdentity")
            .field("endpoint", &kind)
            .field("url", url)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl ManagedIdentity {
    /// The Functions/App Service endpoint (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`). `client_id` selects a
    /// user-assigned identity.
    pub fn app_service(
        endpoint: impl Into<String>,
        header: impl Into<String>,
        client_id: Option<String>,
    ) -> Self {
        Self::with(
            Endpoint::AppService {
                url: endpoint.into(),
                header: crate::Secret::new(header),
            },
            client_id,
        )
    }

    /// IMDS at its well-known address (inside Container Instances and VMs).
    pub fn imds(client_id: Option<String>) -> Self {
        Self::imds_at(IMDS_TOKEN_URL, client_id)
    }

    /// IMDS at another URL (tests).
    pub fn imds_at(url: impl Into<String>, client_id: Option<String>) -> Self {
        Self::with(Endpoint::Imds { url: url.into() }, client_id)
    }

    fn with(endpoint: Endpoint, client_id: Option<String>) -> Self {
        Self {
            endpoint,
            client_id,
            http: crate::http::reqwest_client(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn fetch(&self, resource: &str) -> Result<AccessToken, PortError> {
        let mut query: Vec<(&str, &str)> = vec![("resource", resource)];
        if let Some(id) = &self.client_id {
            query.push(("client_id", id));
        }
        let request = match &self.endpoint {
            Endpoint::AppService { url, header } => {
                query.push(("api-version", "2019-08-01"));
                self.http
                    .get(url)
                    .query(&query)
                    .header("X-IDENTITY-HEADER", header.expose())
            }
            Endpoint::Imds { url } => {
                query.push(("api-version", "2018-02-01"));
                self.http.get(url).query(&query).header("Metadata", "true")
            }
        };
        let response = request.send().await.map_err(|e| {
            PortError::Transient(format!(
                "managed identity token: {}",
                crate::http::describe_reqwest(e)
            ))
        })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            // The endpoint's error body never holds a token; it explains a missing identity or a bad client id.
            let msg = format!(
                "managed identity endpoint answered {status} for {resource}: {}",
                truncate(&body, 300)
            );
            return Err(if status.as_u16() == 429 || status.is_server_error() {
                PortError::Transient(msg)
            } else {
                PortError::Permanent(msg)
            });
        }
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| {
            PortError::Permanent(format!("managed identity answer does not parse: {e}"))
        })?;
        let now = now_secs();
        let expires_on = parsed
            .expires_on
            .as_ref()
            .and_then(number_of)
            .or_else(|| {
                parsed
                    .expires_in
                    .as_ref()
                    .and_then(number_of)
                    .map(|s| now + s)
            })
            // Neither field: keep it only briefly.
            .unwrap_or(now + REFRESH_MARGIN.as_secs() + 60);
        Ok(AccessToken::new(parsed.access_token, Some(expires_on)))
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_on: Option<serde_json::Value>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Epoch seconds arrive as a string or a number depending on the endpoint.
fn number_of(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[async_trait]
impl TokenProvider for ManagedIdentity {
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
            expires_on = token.expires_on,
            "fetched a managed identity token"
        );
        cache.insert(resource.to_string(), token.clone());
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_stale_five_minutes_before_it_expires() {
        let t = AccessToken::new("x", Some(10_000));
        assert!(t.fresh_at(10_000 - 301));
        assert!(!t.fresh_at(10_000 - 300));
        assert!(AccessToken::new("x", None).fresh_at(u64::MAX / 2));
    }

    #[test]
    fn tokens_do_not_print() {
        let t = AccessToken::new("eyJ-secret", Some(1));
        assert!(!format!("{t:?}").contains("eyJ"));
        assert!(!format!("{:?}", StaticToken::new("eyJ-secret")).contains("eyJ"));
        let mi = ManagedIdentity::app_service("http://x", "hdr-secret", None);
        assert!(!format!("{mi:?}").contains("hdr-secret"));
    }

    #[test]
    fn expiry_numbers_parse_from_strings_and_numbers() {
        assert_eq!(
            number_of(&serde_json::json!("1700000000")),
            Some(1_700_000_000)
        );
        assert_eq!(number_of(&serde_json::json!(3599)), Some(3599));
        assert_eq!(number_of(&serde_json::json!("09/14/2017")), None);
    }
}
