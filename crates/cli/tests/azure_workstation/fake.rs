//! The loopback fake of ARM, Key Vault, Service Bus's REST send, the Blob listing and the App Service identity
//! endpoint, and the `az` stub (see main.rs for what each follows).

use crate::{ARM_TOKEN, IDENTITY_HEADER, SEND_KEY, STORAGE_TOKEN, SUBSCRIPTION, VAULT_TOKEN};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// ARM, Key Vault, Service Bus and Blob listing on one loopback server.
#[derive(Clone, Default)]
pub struct Fake {
    pub groups: Arc<Vec<(String, BTreeMap<String, String>)>>,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    pub fn seen(&self, path_start: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.starts_with(path_start))
            .cloned()
            .collect()
    }
}

fn error(status: StatusCode, code: &str) -> axum::response::Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": code}})),
    )
        .into_response()
}

async fn serve_fake(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> axum::response::Response {
    let headers: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let path = uri.path().to_string();
    fake.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: path.clone(),
        query: q.clone(),
        headers: headers.clone(),
        body,
    });
    let bearer = |token: &str| {
        headers.get("authorization").map(String::as_str) == Some(&format!("Bearer {token}"))
    };

    // App Service managed identity endpoint.
    if path == "/msi/token" {
        if headers.get("x-identity-header").map(String::as_str) != Some(IDENTITY_HEADER)
            || q.get("api-version").map(String::as_str) != Some("2019-08-01")
        {
            return error(StatusCode::BAD_REQUEST, "bad_request");
        }
        let resource = q.get("resource").cloned().unwrap_or_default();
        let token = match resource.trim_end_matches('/') {
            "https://management.azure.com" => ARM_TOKEN,
            "https://vault.azure.net" => VAULT_TOKEN,
            _ => STORAGE_TOKEN,
        };
        let expires_on = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600;
        return Json(
            json!({"access_token": token, "expires_on": expires_on.to_string(),
                           "resource": resource, "token_type": "Bearer"}),
        )
        .into_response();
    }
    // ARM: resource groups of the subscription, filtered on one tag pair (`tagName eq 'k' and tagValue eq 'v'`).
    if path
        .to_ascii_lowercase()
        .starts_with(&format!("/subscriptions/{SUBSCRIPTION}/resourcegroups"))
    {
        if !bearer(ARM_TOKEN) {
            return error(StatusCode::UNAUTHORIZED, "AuthenticationFailed");
        }
        let filter = q.get("$filter").cloned().unwrap_or_default();
        let quoted: Vec<&str> = filter.split('\'').collect();
        let (k, v) = (quoted.get(1).copied(), quoted.get(3).copied());
        let value: Vec<Value> = fake
            .groups
            .iter()
            .filter(|(_, tags)| match (k, v) {
                (Some(k), Some(v)) => tags.get(k).map(String::as_str) == Some(v),
                _ => true,
            })
            .map(|(name, tags)| {
                json!({"id": format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}"), "name": name,
                       "location": "westeurope", "tags": tags, "properties": {"provisioningState": "Succeeded"}})
            })
            .collect();
        return Json(json!({ "value": value })).into_response();
    }
    // Key Vault: the Service Bus send key, by name, with a vault token.
    if let Some(name) = path.strip_prefix("/secrets/") {
        if !bearer(VAULT_TOKEN) {
            return error(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        if q.get("api-version").map(String::as_str) != Some("7.4") {
            return error(StatusCode::BAD_REQUEST, "BadParameter");
        }
        return match name {
            "servicebus-send-key" => {
                Json(json!({"value": SEND_KEY, "id": format!("https://vault/secrets/{name}/1")}))
                    .into_response()
            }
            _ => error(StatusCode::NOT_FOUND, "SecretNotFound"),
        };
    }
    // Service Bus REST send: `POST /<queue>/messages` with a SAS of the Send policy.
    if method == Method::POST && path.ends_with("/messages") {
        let auth = headers.get("authorization").cloned().unwrap_or_default();
        if !auth.starts_with("SharedAccessSignature ") || !auth.contains("skn=nightshift-send") {
            return error(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        return StatusCode::CREATED.into_response();
    }
    // Blob listing (`?restype=container&comp=list`) with a storage token: an empty container.
    if method == Method::GET && q.get("comp").map(String::as_str) == Some("list") {
        if !bearer(STORAGE_TOKEN) {
            return error(StatusCode::FORBIDDEN, "AuthorizationFailure");
        }
        let prefix = q.get("prefix").cloned().unwrap_or_default();
        let xml = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1/nsstore/" ContainerName="journals"><Prefix>{prefix}</Prefix><MaxResults>1000</MaxResults><Blobs></Blobs></EnumerationResults>"#
        );
        return (
            StatusCode::OK,
            [
                ("content-type", "application/xml"),
                ("x-ms-request-id", "00000000-0000-0000-0000-000000000001"),
                ("x-ms-version", "2022-11-02"),
                ("date", "Wed, 02 Dec 2026 06:00:00 GMT"),
            ],
            xml,
        )
            .into_response();
    }
    error(StatusCode::NOT_FOUND, "NotFound")
}

pub async fn spawn(fake: Fake) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(serve_fake).with_state(fake);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The `az` stand-in in `dir`, answering `account get-access-token -o json --scope S` with one token per audience.
pub fn az_stub(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let script = format!(
        r#"#!/bin/sh
echo "$*" >> '{calls}'
[ "$1 $2" = "account get-access-token" ] || {{ echo "unexpected: $*" >&2; exit 2; }}
scope=""
while [ $# -gt 0 ]; do [ "$1" = "--scope" ] && scope=$2; shift; done
case "$scope" in
  https://management.azure.com/.default) token={ARM_TOKEN} ;;
  https://vault.azure.net/.default) token={VAULT_TOKEN} ;;
  https://storage.azure.com/.default) token={STORAGE_TOKEN} ;;
  *) echo "ERROR: unexpected scope $scope" >&2; exit 1 ;;
esac
printf '{{"accessToken": "%s", "expiresOn": "2099-01-01 00:00:00.000000", "expires_on": %s, "subscription": "sub", "tenant": "tenant", "tokenType": "Bearer"}}\n' "$token" $(( $(date +%s) + 3600 ))
"#,
        calls = dir.join("az-calls").display(),
    );
    let path = dir.join("az");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The scopes the stub was asked for.
pub fn az_scopes(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("az-calls"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split("--scope ").nth(1))
        .map(|s| s.split(' ').next().unwrap_or_default().to_string())
        .collect()
}
