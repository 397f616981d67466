//! The HTTP seam under the Azure SDK clients: a small transport trait of our own (so no `azure_core` type leaks
//! into the public API), the production implementation on reqwest with rustls, and the adapter that plugs a
//! transport into `azure_core`'s `HttpClient` trait, optionally adding a bearer token.

use crate::identity::TokenProvider;
use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// One HTTP request as the SDK built it. `Debug` redacts `Authorization` and SAS signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    /// Lowercase names, in the order the SDK set them.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first header of that (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("authorization") {
                    (k.as_str(), "***")
                } else {
                    (k.as_str(), v.as_str())
                }
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Drops a URL's query string when it carries a SAS signature.
pub(crate) fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, query)) if query.contains("sig=") => format!("{base}?***"),
        _ => url.to_string(),
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish()
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A failure below HTTP (connect, TLS, timeout): always worth another try.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("transport: {0}")]
pub struct TransportError(pub String);

impl TransportError {
    /// Nothing answered at the address: a connection refused or unreachable, or none within the timeouts (what
    /// [`describe_reqwest`] names `connect` and `timeout` errors).
    pub fn is_no_answer(&self) -> bool {
        self.0.starts_with("connect error") || self.0.starts_with("timeout error")
    }
}

/// Sends requests for the SDK clients. Implement it in tests to capture what the adapters send.
#[async_trait]
pub trait HttpTransport: Send + Sync {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// The production transport: reqwest with rustls, with connect and request timeouts.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// Builds the client; performs no I/O.
    pub fn new() -> Self {
        Self {
            client: reqwest_client(),
        }
    }
}

impl Default for ReqwestTransport {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        // Building fails only when the TLS backend cannot initialise; fall back to the default client then.
        .unwrap_or_default()
}

#[async_trait]
impl HttpTransport for ReqwestTransport {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| TransportError(format!("bad method: {e}")))?;
        let mut builder = self.client.request(method, &request.url);
        for (k, v) in &request.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let response = builder
            .body(request.body)
            .send()
            .await
            .map_err(|e| TransportError(describe_reqwest(e)))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = response
            .bytes()
            .await
            .map_err(|e| TransportError(describe_reqwest(e)))?
            .to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// reqwest's error text includes the URL; SAS URLs must not reach a log.
pub(crate) fn describe_reqwest(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    };
    let url = e.url().map(|u| redact_url(u.as_str())).unwrap_or_default();
    format!("{kind} error for {url}: {}", e.without_url())
}

/// The HTTP status an SDK error carries, whichever way the SDK built it.
pub(crate) fn sdk_status(e: &azure_core::Error) -> Option<u16> {
    if let azure_core::error::ErrorKind::HttpResponse { status, .. } = e.kind() {
        return Some(u16::from(*status));
    }
    e.as_http_error().map(|h| u16::from(h.status()))
}

/// An SDK error without an HTTP status, with its causes: the SDK's retry policy wraps an error it will not retry
/// in its own message ("non-io error occurred which will not be retried") and shows only that, so the reason (a
/// credential that gave no token and what to do about it, a connection refused) would be lost. Our transport
/// names URLs without their query (`describe_reqwest`), and a credential's message names no token.
pub(crate) fn sdk_error_text(e: &azure_core::Error) -> String {
    error_chain(e)
}

/// An error's message and its causes', each once, joined by `: ` (both SDK lines' errors wrap their causes).
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

tokio::task_local! {
    /// Set around an Append Block: the `x-ms-blob-append-offset` its response carried (the SDK's response type
    /// drops that header).
    pub(crate) static APPEND_OFFSET: std::cell::Cell<Option<u64>>;
}

/// Plugs an [`HttpTransport`] into `azure_core`, adding `Authorization: Bearer` for `resource` when asked to.
pub(crate) struct AzureHttp {
    transport: Arc<dyn HttpTransport>,
    bearer: Option<(Arc<dyn TokenProvider>, String)>,
}

impl AzureHttp {
    pub(crate) fn new(transport: Arc<dyn HttpTransport>) -> Self {
        Self {
            transport,
            bearer: None,
        }
    }
    pub(crate) fn with_bearer(
        transport: Arc<dyn HttpTransport>,
        tokens: Arc<dyn TokenProvider>,
        resource: &str,
    ) -> Self {
        Self {
            transport,
            bearer: Some((tokens, resource.to_string())),
        }
    }
}

impl fmt::Debug for AzureHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureHttp")
            .field("bearer_for", &self.bearer.as_ref().map(|(_, r)| r))
            .finish()
    }
}

#[async_trait]
impl azure_core::HttpClient for AzureHttp {
    async fn execute_request(
        &self,
        request: &azure_core::Request,
    ) -> azure_core::Result<azure_core::Response> {
        use azure_core::error::{Error, ErrorKind};
        let body = match request.body() {
            azure_core::Body::Bytes(b) => b.to_vec(),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::message(
                    ErrorKind::Other,
                    "streaming request bodies are not supported by this transport",
                ))
            }
        };
        let mut headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.as_str().to_string()))
            .collect();
        if let Some((tokens, resource)) = &self.bearer {
            let token = tokens
                .token(resource)
                .await
                .map_err(|e| Error::message(ErrorKind::Credential, e.to_string()))?;
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case("authorization"));
            headers.push(("authorization".into(), format!("Bearer {}", token.expose())));
        }
        let ours = HttpRequest {
            method: request.method().to_string().to_uppercase(),
            url: request.url().to_string(),
            headers,
            body,
        };
        let response = self
            .transport
            .send(ours)
            .await
            .map_err(|e| Error::message(ErrorKind::Io, e.0))?;
        let status = azure_core::StatusCode::try_from(response.status).map_err(|_| {
            Error::message(
                ErrorKind::DataConversion,
                format!("unknown HTTP status {}", response.status),
            )
        })?;
        if let Some(offset) = response.header("x-ms-blob-append-offset") {
            let offset = offset.trim().parse::<u64>().ok();
            let _ = APPEND_OFFSET.try_with(|cell| cell.set(offset));
        }
        let mut out_headers = azure_core::headers::Headers::new();
        for (k, v) in response.headers {
            out_headers.insert(k.to_ascii_lowercase(), v);
        }
        let body = bytes::Bytes::from(response.body);
        let stream: std::pin::Pin<
            Box<dyn futures::Stream<Item = azure_core::Result<bytes::Bytes>> + Send + Sync>,
        > = Box::pin(futures::stream::once(async move { Ok(body) }));
        Ok(azure_core::Response::new(status, out_headers, stream))
    }
}
