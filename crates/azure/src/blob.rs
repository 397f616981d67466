//! The `Store` port on Blob Storage (`azure_storage_blobs`): run journals with ETag-conditional writes, one-run-
//! per-night guards with conditional creates, job logs and step outputs as plain blobs.
//!
//! | port | Blob Storage |
//! | --- | --- |
//! | `get` | GET blob: bytes and its ETag (`None` for 404) |
//! | `put(Absent)` | PUT with `If-None-Match: *` (only one of two concurrent creates wins) |
//! | `put(Version(etag))` | PUT with `If-Match: <etag>` (the loser of a race re-reads and re-applies) |
//! | 409, 412 | `Conflict` |
//! | 5xx, 429, 408, timeouts | `Transient` (after the SDK's own short retries) |
//! | 400, 403, other 4xx | `Permanent` |
//! | `list(prefix)` | List Blobs with `prefix`, following `NextMarker` over every page |
//! | `create_appendable` | Put Blob of an Append Blob with `If-None-Match: *`, then Append Block |
//! | `append` | Append Block (atomic, never conflicts); the offset from `x-ms-blob-append-offset` |
//! | `read_from(offset)` | GET with `x-ms-range: bytes=<offset>-` (416 past the end: nothing new) |

use crate::http::APPEND_OFFSET;
use crate::http::{AzureHttp, HttpTransport};
use crate::identity::{TokenProvider, STORAGE_RESOURCE};
use async_trait::async_trait;
use azure_core::error::ErrorKind;
use azure_core::prelude::{IfMatchCondition, MaxResults, Prefix};
use azure_core::{ExponentialRetryOptions, RetryOptions, TransportOptions};
use azure_storage::{CloudLocation, StorageCredentials};
use azure_storage_blobs::prelude::{ClientBuilder, ContainerClient};
use futures::StreamExt;
use nightshift_core::ports::{check_record, PortError, Precondition, Store, Versioned};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// How the store authenticates.
#[derive(Clone)]
pub enum BlobAuth {
    /// Shared Key with the account key (Azurite and development).
    Key(crate::Secret),
    /// A bearer token for `https://storage.azure.com/` (managed identity; the role "Storage Blob Data
    /// Contributor" on the container). Added by this crate's transport, after the SDK's request log.
    Token(Arc<dyn TokenProvider>),
}

impl fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlobAuth::Key(_) => "Key(***)",
            BlobAuth::Token(_) => "Token",
        })
    }
}

/// A blob container as the store.
#[derive(Clone)]
pub struct BlobStore {
    container: ContainerClient,
    container_name: String,
    endpoint: String,
    page_size: NonZeroU32,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobStore")
            .field("endpoint", &self.endpoint)
            .field("container", &self.container_name)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// Large enough that a journal, a log or an output is read in one request (one ETag).
const READ_CHUNK: u64 = 256 * 1024 * 1024;

impl BlobStore {
    /// `endpoint` is the blob service URL including the account when path-style (Azurite:
    /// `http://127.0.0.1:10000/devstoreaccount1`); `None` means `https://<account>.blob.core.windows.net`.
    /// Performs no I/O.
    pub fn new(
        account: &str,
        endpoint: Option<&str>,
        container: &str,
        auth: BlobAuth,
        transport: Arc<dyn HttpTransport>,
    ) -> Self {
        let endpoint = endpoint
            .map(|e| e.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"));
        let location = CloudLocation::Custom {
            account: account.to_string(),
            uri: endpoint.clone(),
        };
        let (credentials, http) = match auth {
            BlobAuth::Key(key) => (
                StorageCredentials::access_key(account.to_string(), key.expose().to_string()),
                AzureHttp::new(transport),
            ),
            BlobAuth::Token(tokens) => (
                StorageCredentials::anonymous(),
                AzureHttp::with_bearer(transport, tokens, STORAGE_RESOURCE),
            ),
        };
        let http: Arc<dyn azure_core::HttpClient> = Arc::new(http);
        let container_client = ClientBuilder::with_location(location, credentials)
            .transport(TransportOptions::new(http))
            .retry(RetryOptions::exponential(
                ExponentialRetryOptions::default()
                    .max_retries(3u32)
                    .initial_delay(Duration::from_millis(200))
                    .max_total_elapsed(Duration::from_secs(20)),
            ))
            .container_client(container);
        Self {
            container: container_client,
            container_name: container.to_string(),
            endpoint,
            page_size: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN),
        }
    }

    /// Page size of listings (tests use a small one to prove paging).
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = NonZeroU32::new(page_size).unwrap_or(NonZeroU32::MIN);
        self
    }

    /// Creates the container if it is missing (deployments create it with Terraform; tests and development call
    /// this).
    pub async fn ensure_container(&self) -> Result<(), PortError> {
        match self.container.create().await {
            Ok(_) => Ok(()),
            Err(e) => match port_error(e, "create container") {
                PortError::Conflict(_) => Ok(()),
                other => Err(other),
            },
        }
    }
}

fn status_of(e: &azure_core::Error) -> Option<u16> {
    crate::http::sdk_status(e)
}

/// Classifies an SDK error; the message names the operation and the status, never a header or a URL query.
fn port_error(e: azure_core::Error, what: &str) -> PortError {
    match (e.kind(), status_of(&e)) {
        (_, Some(s)) => {
            let code = e
                .as_http_error()
                .and_then(|h| h.error_code().map(str::to_string))
                .unwrap_or_default();
            let msg = format!("blob {what}: {s} {code}");
            match s {
                409 | 412 => PortError::Conflict(msg),
                408 | 429 | 500..=599 => PortError::Transient(msg),
                _ => PortError::Permanent(msg),
            }
        }
        (ErrorKind::Io, None) | (ErrorKind::Credential, None) => {
            PortError::Transient(format!("blob {what}: {}", crate::http::sdk_error_text(&e)))
        }
        (_, None) => {
            PortError::Permanent(format!("blob {what}: {}", crate::http::sdk_error_text(&e)))
        }
    }
}

#[async_trait]
impl Store for BlobStore {
    #[tracing::instrument(skip_all, fields(key))]
    async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError> {
        let blob = self.container.blob_client(key);
        let mut stream = blob.get().chunk_size(READ_CHUNK).into_stream();
        let mut bytes = Vec::new();
        let mut version: Option<String> = None;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) if status_of(&e) == Some(404) => return Ok(None),
                // An empty blob has no byte range to read: its version comes from its properties.
                Err(e) if status_of(&e) == Some(416) => {
                    let props = blob
                        .get_properties()
                        .await
                        .map_err(|e| port_error(e, "get properties"))?;
                    return Ok(Some(Versioned {
                        bytes: Vec::new(),
                        version: props.blob.properties.etag.to_string(),
                    }));
                }
                Err(e) => return Err(port_error(e, "get")),
            };
            let etag = chunk.blob.properties.etag.to_string();
            match &version {
                None => version = Some(etag),
                Some(v) if *v != etag => {
                    return Err(PortError::Transient(format!(
                        "blob {key} changed while it was read"
                    )))
                }
                Some(_) => {}
            }
            let data = chunk
                .data
                .collect()
                .await
                .map_err(|e| port_error(e, "read body"))?;
            bytes.extend_from_slice(&data);
        }
        Ok(version.map(|version| Versioned { bytes, version }))
    }

    #[tracing::instrument(skip_all, fields(key, bytes = bytes.len()))]
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        precondition: Precondition,
    ) -> Result<String, PortError> {
        let mut put = self.container.blob_client(key).put_block_blob(bytes);
        match precondition {
            Precondition::None => {}
            Precondition::Absent => put = put.if_match(IfMatchCondition::NotMatch("*".into())),
            Precondition::Version(v) => put = put.if_match(IfMatchCondition::Match(v)),
        }
        let response = put.await.map_err(|e| port_error(e, "put"))?;
        Ok(response.etag)
    }

    #[tracing::instrument(skip_all, fields(prefix))]
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        let mut stream = self
            .container
            .list_blobs()
            .prefix(Prefix::from(prefix.to_string()))
            .max_results(MaxResults::new(self.page_size))
            .into_stream();
        let mut keys = Vec::new();
        while let Some(page) = stream.next().await {
            let page = page.map_err(|e| port_error(e, "list"))?;
            keys.extend(page.blobs.blobs().map(|b| b.name.clone()));
        }
        keys.sort();
        Ok(keys)
    }

    /// An Append Blob: Put Blob (`x-ms-blob-type: AppendBlob`) with `If-None-Match: *`, then Append Block of the
    /// first record. A creation that stops in between leaves an empty journal, which readers take as not created.
    #[tracing::instrument(skip_all, fields(key))]
    async fn create_appendable(&self, key: &str, first: Vec<u8>) -> Result<bool, PortError> {
        check_record(key, &first)?;
        let blob = self.container.blob_client(key);
        match blob
            .put_append_blob()
            .if_match(IfMatchCondition::NotMatch("*".into()))
            .await
        {
            Ok(_) => {}
            Err(e) => {
                return match port_error(e, "create append blob") {
                    PortError::Conflict(_) => Ok(false),
                    other => Err(other),
                }
            }
        }
        self.append(key, first).await?;
        Ok(true)
    }

    /// Append Block: atomic (the whole record or nothing), never conflicting; the offset is the response's
    /// `x-ms-blob-append-offset`. 404 (no such blob) is `None`.
    #[tracing::instrument(skip_all, fields(key, bytes = record.len()))]
    async fn append(&self, key: &str, record: Vec<u8>) -> Result<Option<u64>, PortError> {
        check_record(key, &record)?;
        let blob = self.container.blob_client(key);
        let (result, offset) = APPEND_OFFSET
            .scope(std::cell::Cell::new(None), async move {
                let result = blob.append_block(record).await;
                (result, APPEND_OFFSET.with(|c| c.get()))
            })
            .await;
        match result {
            Ok(_) => offset.map(Some).ok_or_else(|| {
                PortError::Permanent(format!(
                    "blob append to {key}: the response did not say where the block landed \
                     (x-ms-blob-append-offset)"
                ))
            }),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(port_error(e, "append block")),
        }
    }

    /// A ranged GET from `offset`; 416 (nothing past the end) is an empty answer, 404 is `None`.
    #[tracing::instrument(skip_all, fields(key, offset))]
    async fn read_from(&self, key: &str, offset: u64) -> Result<Option<Vec<u8>>, PortError> {
        let blob = self.container.blob_client(key);
        let mut stream = blob
            .get()
            .range(offset..)
            .chunk_size(READ_CHUNK)
            .into_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) if status_of(&e) == Some(404) => return Ok(None),
                Err(e) if status_of(&e) == Some(416) => return Ok(Some(bytes)),
                Err(e) => return Err(port_error(e, "read from")),
            };
            let data = chunk
                .data
                .collect()
                .await
                .map_err(|e| port_error(e, "read body"))?;
            bytes.extend_from_slice(&data);
        }
        Ok(Some(bytes))
    }

    #[tracing::instrument(skip_all, fields(key))]
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        match self.container.blob_client(key).delete().await {
            Ok(_) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(port_error(e, "delete")),
        }
    }
}
