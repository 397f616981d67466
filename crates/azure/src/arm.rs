//! Azure Resource Manager over REST: a small client that retries 429 and 5xx with bounded, Retry-After-honouring
//! backoff and follows long-running operations (202 + `Location` / `Azure-AsyncOperation`), and the `Cloud` port
//! on resource groups (tag-filtered listing over every page, deletes where 404 means already gone).

use crate::identity::{TokenProvider, ARM_RESOURCE};
use async_trait::async_trait;
use nightshift_core::expiry::{tags, ResourceGroup};
use nightshift_core::ports::{Cloud, Deletion, PortError, TagUpdate};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The public ARM endpoint.
pub const PUBLIC_ARM_ENDPOINT: &str = "https://management.azure.com";
pub(crate) const RESOURCE_GROUPS_API: &str = "2021-04-01";

/// How often and how long to retry throttled and failing ARM calls, and how long to follow an operation.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub max_attempts: u32,
    /// The first backoff; doubled each retry up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is cut to it.
    pub max_retry_after: Duration,
    /// How long to poll a long-running operation before answering Transient (the next sweep picks it up).
    pub operation_deadline: Duration,
    /// Poll interval when the operation gives no `Retry-After`.
    pub default_poll_interval: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            operation_deadline: Duration::from_secs(8 * 60),
            default_poll_interval: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// A response ARM gave, after retries.
#[derive(Debug)]
pub(crate) struct ArmResponse {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl ArmResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub(crate) fn json<T: for<'de> Deserialize<'de>>(&self) -> Result<T, PortError> {
        serde_json::from_str(&self.body)
            .map_err(|e| PortError::Permanent(format!("ARM answer does not parse: {e}")))
    }
}

/// ARM over REST with bearer tokens. Cheap to clone; constructing it performs no I/O.
#[derive(Clone)]
pub struct ArmClient {
    endpoint: String,
    subscription: String,
    tokens: Arc<dyn TokenProvider>,
    http: reqwest::Client,
    policy: RetryPolicy,
}

impl fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArmClient")
            .field("endpoint", &self.endpoint)
            .field("subscription", &self.subscription)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl ArmClient {
    pub fn new(
        endpoint: impl Into<String>,
        subscription: impl Into<String>,
        tokens: Arc<dyn TokenProvider>,
    ) -> Self {
        Self {
            endpoint: endpoint.into().trim_end_matches('/').to_string(),
            subscription: subscription.into(),
            tokens,
            http: crate::http::reqwest_client(),
            policy: RetryPolicy::default(),
        }
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn subscription(&self) -> &str {
        &self.subscription
    }

    /// `{endpoint}/subscriptions/{subscription}{path}`.
    pub(crate) fn subscription_url(&self, path: &str) -> String {
        format!(
            "{}/subscriptions/{}{path}",
            self.endpoint, self.subscription
        )
    }

    /// Sends once per attempt, retrying connection failures, 429 and 5xx; answers the first other response.
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<ArmResponse, PortError> {
        let mut last = String::new();
        for attempt in 0..self.policy.max_attempts.max(1) {
            let token = self.tokens.token(ARM_RESOURCE).await?;
            let mut request = self
                .http
                .request(method.clone(), url)
                .bearer_auth(token.expose());
            if let Some(body) = body {
                request = request.json(body);
            }
            let wait = match request.send().await {
                Err(e) => {
                    last = crate::http::describe_reqwest(e);
                    self.policy.backoff(attempt)
                }
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let body = response.text().await.unwrap_or_default();
                    let response = ArmResponse {
                        status,
                        headers,
                        body,
                    };
                    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
                        return Ok(response);
                    }
                    last = describe_failure(&method, url, &response);
                    self.retry_after(&response)
                        .unwrap_or_else(|| self.policy.backoff(attempt))
                }
            };
            if attempt + 1 < self.policy.max_attempts {
                tracing::warn!(
                    attempt = attempt + 1,
                    wait_ms = wait.as_millis() as u64,
                    "{last}; retrying"
                );
                tokio::time::sleep(wait).await;
            }
        }
        Err(PortError::Transient(format!(
            "{last} (gave up after {} attempts)",
            self.policy.max_attempts
        )))
    }

    fn retry_after(&self, response: &ArmResponse) -> Option<Duration> {
        let secs: u64 = response.header("retry-after")?.trim().parse().ok()?;
        Some(Duration::from_secs(secs).min(self.policy.max_retry_after))
    }

    /// Follows a 202 to its end: polls `Azure-AsyncOperation` (status in the body) or `Location` (202 while
    /// running, 200/204 when done), waiting `Retry-After` between polls, until the deadline.
    pub(crate) async fn follow(&self, accepted: &ArmResponse) -> Result<(), PortError> {
        let started = Instant::now();
        let async_op = accepted.header("azure-asyncoperation").map(str::to_string);
        let location = accepted.header("location").map(str::to_string);
        let (url, by_status) = match (async_op, location) {
            (Some(u), _) => (u, true),
            (None, Some(u)) => (u, false),
            // Nothing to poll: ARM accepted the request and will finish it on its own.
            (None, None) => return Ok(()),
        };
        let mut wait = self
            .retry_after(accepted)
            .unwrap_or(self.policy.default_poll_interval);
        loop {
            if started.elapsed() + wait > self.policy.operation_deadline {
                return Err(PortError::Transient(format!(
                    "operation still running after {}s; it goes on in Azure",
                    started.elapsed().as_secs()
                )));
            }
            tokio::time::sleep(wait).await;
            let poll = self.send(Method::GET, &url, None).await?;
            wait = self
                .retry_after(&poll)
                .unwrap_or(self.policy.default_poll_interval);
            if by_status {
                if !poll.status.is_success() {
                    return Err(classify(&Method::GET, &url, &poll));
                }
                let status: OperationStatus = poll.json()?;
                match status.status.as_str() {
                    "Succeeded" => return Ok(()),
                    "Failed" | "Canceled" => {
                        return Err(PortError::Permanent(format!(
                            "operation {}: {}",
                            status.status,
                            status.error.map(|e| e.to_string()).unwrap_or_default()
                        )))
                    }
                    _ => continue,
                }
            }
            match poll.status.as_u16() {
                202 => continue,
                200..=299 => return Ok(()),
                _ => return Err(classify(&Method::GET, &url, &poll)),
            }
        }
    }
}

#[derive(Deserialize)]
struct OperationStatus {
    status: String,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

fn describe_failure(method: &Method, url: &str, response: &ArmResponse) -> String {
    let path = url.split('?').next().unwrap_or(url);
    format!(
        "ARM {method} {path} answered {}: {}",
        response.status,
        crate::identity::truncate(&response.body, 400)
    )
}

/// What an unexpected ARM answer means for the caller.
pub(crate) fn classify(method: &Method, url: &str, response: &ArmResponse) -> PortError {
    let msg = describe_failure(method, url, response);
    let code = response.status.as_u16();
    match code {
        429 | 500..=599 | 408 => PortError::Transient(msg),
        // A conflicting operation in progress goes away; a lock does not.
        409 if !response.body.contains("ScopeLocked") => PortError::Transient(msg),
        _ => PortError::Permanent(msg),
    }
}

/// The `Cloud` port on ARM resource groups.
#[derive(Debug, Clone)]
pub struct ArmCloud {
    arm: ArmClient,
}

impl ArmCloud {
    pub fn new(arm: ArmClient) -> Self {
        Self { arm }
    }
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<GroupJson>,
    #[serde(rename = "nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct GroupJson {
    name: String,
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
}

/// Safety net against a server whose nextLink never ends.
const MAX_PAGES: usize = 10_000;

#[async_trait]
impl Cloud for ArmCloud {
    #[tracing::instrument(skip_all, fields(instance))]
    async fn list_managed(&self, instance: &str) -> Result<Vec<ResourceGroup>, PortError> {
        let filter = format!(
            "tagName eq '{}' and tagValue eq '{}'",
            tags::MANAGED_BY,
            instance.replace('\'', "''")
        );
        let mut url = reqwest::Url::parse(&self.arm.subscription_url("/resourcegroups"))
            .map_err(|e| PortError::Permanent(format!("bad ARM endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("api-version", RESOURCE_GROUPS_API)
            .append_pair("$filter", &filter);
        let mut next = Some(url.to_string());
        let mut groups = Vec::new();
        let mut pages = 0usize;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(PortError::Transient(format!(
                    "resource group listing exceeded {MAX_PAGES} pages"
                )));
            }
            let response = self.arm.send(Method::GET, &url, None).await?;
            if !response.status.is_success() {
                return Err(classify(&Method::GET, &url, &response));
            }
            let page: Page = response.json()?;
            // The server filters on one tag pair; checking again costs nothing and guards against a filter that
            // was ignored.
            groups.extend(page.value.into_iter().filter_map(|g| {
                let tags = g.tags.unwrap_or_default();
                // Tag names are case-insensitive on Azure; a group whose tags are ambiguous is listed so the
                // sweep reports it (and keeps it).
                let ours = tags::read_known(&tags)
                    .map_or(true, |known| known.get(tags::MANAGED_BY) == Some(&instance));
                ours.then_some(ResourceGroup::new(g.name, tags))
            }));
            next = page.next_link.filter(|l| !l.is_empty());
        }
        tracing::debug!(
            pages,
            groups = groups.len(),
            "listed managed resource groups"
        );
        Ok(groups)
    }

    #[tracing::instrument(skip_all, fields(group = name))]
    async fn delete_group(&self, name: &str) -> Result<Deletion, PortError> {
        let url = self.arm.subscription_url(&format!(
            "/resourcegroups/{name}?api-version={RESOURCE_GROUPS_API}"
        ));
        let response = self.arm.send(Method::DELETE, &url, None).await?;
        match response.status.as_u16() {
            404 => Ok(Deletion::AlreadyGone),
            200 | 204 => Ok(Deletion::Deleted),
            202 => {
                self.arm.follow(&response).await?;
                Ok(Deletion::Deleted)
            }
            _ => Err(classify(&Method::DELETE, &url, &response)),
        }
    }

    /// The Tags API at the group's scope with `operation: Merge`: the given tags are set, the others stay (a PUT
    /// of the group would need its location and replace every tag). 404 means the group is gone.
    #[tracing::instrument(skip_all, fields(group))]
    async fn merge_tags(
        &self,
        group: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<TagUpdate, PortError> {
        let url = self.arm.subscription_url(&format!(
            "/resourcegroups/{group}/providers/Microsoft.Resources/tags/default?api-version={TAGS_API}"
        ));
        let body = serde_json::json!({ "operation": "Merge", "properties": { "tags": tags } });
        let response = self.arm.send(Method::PATCH, &url, Some(&body)).await?;
        match response.status.as_u16() {
            200 | 201 => Ok(TagUpdate::Updated),
            202 => {
                self.arm.follow(&response).await?;
                Ok(TagUpdate::Updated)
            }
            404 => Ok(TagUpdate::GroupGone),
            _ => Err(classify(&Method::PATCH, &url, &response)),
        }
    }

    /// Lists the subscription's soft-deleted vaults (every page) and purges those that lived in `group`. The purge
    /// is accepted (202) and completes in the background: the sweep does not wait for it.
    #[tracing::instrument(skip_all, fields(group))]
    async fn purge_deleted_vaults(&self, group: &str) -> Result<Vec<String>, PortError> {
        let needle = format!("/resourcegroups/{}/", group.to_ascii_lowercase());
        let mut next = Some(self.arm.subscription_url(&format!(
            "/providers/Microsoft.KeyVault/deletedVaults?api-version={KEY_VAULT_API}"
        )));
        let mut targets = Vec::new();
        let mut pages = 0usize;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(PortError::Transient(format!(
                    "deleted vault listing exceeded {MAX_PAGES} pages"
                )));
            }
            let response = self.arm.send(Method::GET, &url, None).await?;
            if !response.status.is_success() {
                return Err(classify(&Method::GET, &url, &response));
            }
            let page: DeletedVaultPage = response.json()?;
            targets.extend(
                page.value
                    .into_iter()
                    .filter(|v| v.properties.vault_id.to_ascii_lowercase().contains(&needle)),
            );
            next = page.next_link.filter(|l| !l.is_empty());
        }
        // Purge only once the listing is complete: purging while paging changes the list under the page token.
        let mut purged = Vec::new();
        for v in targets {
            let purge = self.arm.subscription_url(&format!(
                "/providers/Microsoft.KeyVault/locations/{}/deletedVaults/{}/purge?api-version={KEY_VAULT_API}",
                v.properties.location, v.name
            ));
            let r = self.arm.send(Method::POST, &purge, None).await?;
            match r.status.as_u16() {
                200 | 202 | 204 => purged.push(v.name),
                // Purged meanwhile (another sweep, an operator).
                404 => {}
                _ => return Err(classify(&Method::POST, &purge, &r)),
            }
        }
        Ok(purged)
    }
}

pub(crate) const KEY_VAULT_API: &str = "2022-07-01";
/// The Tags API (`Microsoft.Resources/tags`).
pub(crate) const TAGS_API: &str = "2021-04-01";

#[derive(Deserialize)]
struct DeletedVaultPage {
    #[serde(default)]
    value: Vec<DeletedVault>,
    #[serde(rename = "nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct DeletedVault {
    name: String,
    properties: DeletedVaultProperties,
}

#[derive(Deserialize)]
struct DeletedVaultProperties {
    #[serde(rename = "vaultId")]
    vault_id: String,
    location: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(2), Duration::from_millis(400));
        assert_eq!(p.backoff(3), Duration::from_millis(500));
        assert_eq!(p.backoff(40), Duration::from_millis(500));
    }
}
