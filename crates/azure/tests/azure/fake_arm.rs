//! A loopback server that follows the documented ARM, managed identity and Key Vault behaviour the adapters rely
//! on (the REST contract; there is no emulator for these), with scripted failures, recording every request.

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";
pub const IDENTITY_HEADER: &str = "test-identity-header-value";

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    pub at: Instant,
}

#[derive(Clone)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Scripted {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: String::new(),
        }
    }
    pub fn header(mut self, k: &'static str, v: impl Into<String>) -> Self {
        self.headers.push((k, v.into()));
        self
    }
}

#[derive(Default)]
pub struct State {
    pub base: String,
    pub requests: Vec<Recorded>,
    /// (method, path) -> responses to give before the normal behaviour.
    pub scripted: HashMap<(String, String), VecDeque<Scripted>>,
    pub groups: Vec<(String, BTreeMap<String, String>)>,
    pub page_size: usize,
    /// Retry-After the LRO answers carry.
    pub lro_retry_after: u64,
    /// operation id -> 202 answers left before 200.
    pub operations: HashMap<String, u32>,
    pub container_groups: BTreeMap<String, Value>,
    /// group -> (exit code, logs) once the job has finished.
    pub finished: HashMap<String, (i32, String)>,
    pub secrets: HashMap<String, String>,
    pub token_ttl_secs: u64,
    pub tokens_issued: u32,
    /// Soft-deleted key vaults: (name, vaultId, location).
    pub deleted_vaults: Vec<(String, String, String)>,
}

#[derive(Clone)]
pub struct FakeArm {
    pub base: String,
    pub state: Arc<Mutex<State>>,
}

impl FakeArm {
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
    pub fn requests_to(&self, method: &str, path_contains: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.contains(path_contains))
            .collect()
    }
    pub fn script(&self, method: &str, path: &str, responses: Vec<Scripted>) {
        self.state
            .lock()
            .unwrap()
            .scripted
            .entry((method.to_string(), path.to_string()))
            .or_default()
            .extend(responses);
    }
    pub fn add_group(&self, name: &str, tags: &[(&str, &str)]) {
        let tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.state
            .lock()
            .unwrap()
            .groups
            .push((name.to_string(), tags));
    }
    pub fn finish_job(&self, name: &str, code: i32, logs: &str) {
        self.state
            .lock()
            .unwrap()
            .finished
            .insert(name.to_string(), (code, logs.to_string()));
    }
    pub fn set(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
    }
    pub fn group_path(name: &str) -> String {
        format!("/subscriptions/{SUBSCRIPTION}/resourcegroups/{name}")
    }
}

pub async fn spawn_fake_arm() -> FakeArm {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Mutex::new(State {
        base: base.clone(),
        page_size: 100,
        token_ttl_secs: 3600,
        ..State::default()
    }));
    let app = axum::Router::new().fallback({
        let state = state.clone();
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move { handle(&state, method, uri, headers, body) }
        }
    });
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    FakeArm { base, state }
}

fn query_map(query: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn json_response(status: u16, body: Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn scripted_response(s: Scripted) -> Response {
    let mut r = (StatusCode::from_u16(s.status).unwrap(), s.body).into_response();
    for (k, v) in s.headers {
        r.headers_mut().insert(k, v.parse().unwrap());
    }
    r
}

fn not_found() -> Response {
    json_response(
        404,
        json!({"error": {"code": "ResourceNotFound", "message": "not found"}}),
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn handle(
    state: &Mutex<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let mut st = state.lock().unwrap();
    st.requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: String::from_utf8_lossy(&body).to_string(),
        at: Instant::now(),
    });
    if let Some(q) = st.scripted.get_mut(&(method.to_string(), path.clone())) {
        if let Some(s) = q.pop_front() {
            return scripted_response(s);
        }
    }
    let q = query_map(&query);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();

    // Managed identity: App Service endpoint and IMDS.
    if path == "/msi/token" || path == "/metadata/identity/oauth2/token" {
        let ok = if path == "/msi/token" {
            headers
                .get("x-identity-header")
                .map(|v| v == IDENTITY_HEADER)
                .unwrap_or(false)
                && q.get("api-version").map(String::as_str) == Some("2019-08-01")
        } else {
            headers
                .get("metadata")
                .map(|v| v == "true")
                .unwrap_or(false)
        };
        if !ok || !q.contains_key("resource") {
            return json_response(400, json!({"error": "bad_request"}));
        }
        st.tokens_issued += 1;
        let n = st.tokens_issued;
        let expires_on = (now_secs() + st.token_ttl_secs).to_string();
        return json_response(
            200,
            json!({
            "access_token": format!("mi-token-{n}"), "expires_on": expires_on,
            "resource": q["resource"], "token_type": "Bearer",
            "client_id": q.get("client_id").cloned().unwrap_or_default()}),
        );
    }

    // Key Vault data plane.
    if segments.len() == 2 && segments[0] == "secrets" && method == Method::GET {
        if q.get("api-version").map(String::as_str) != Some("7.4") {
            return json_response(400, json!({"error": {"code": "BadParameter"}}));
        }
        return match st.secrets.get(segments[1]) {
            Some(v) => json_response(
                200,
                json!({"value": v, "id": format!("{}/secrets/{}/1", st.base, segments[1])}),
            ),
            None => json_response(404, json!({"error": {"code": "SecretNotFound"}})),
        };
    }

    // Long-running operation status (Location).
    if segments.len() == 2 && segments[0] == "operations" {
        let retry_after = st.lro_retry_after.to_string();
        let left = st.operations.entry(segments[1].to_string()).or_insert(0);
        if *left > 0 {
            *left -= 1;
            let location = format!("{}/operations/{}", st.base, segments[1]);
            return (
                StatusCode::ACCEPTED,
                [("location", location), ("retry-after", retry_after)],
            )
                .into_response();
        }
        return StatusCode::OK.into_response();
    }

    if segments.len() < 3 || segments[0] != "subscriptions" || segments[1] != SUBSCRIPTION {
        return not_found();
    }

    // Soft-deleted key vaults: list (nextLink paging) and purge (202, completes in the background).
    if segments.len() == 5
        && segments[2..] == ["providers", "Microsoft.KeyVault", "deletedVaults"]
        && method == Method::GET
    {
        if q.get("api-version").map(String::as_str) != Some("2022-07-01") {
            return json_response(
                400,
                json!({"error": {"code": "InvalidApiVersionParameter"}}),
            );
        }
        let skip: usize = q
            .get("$skiptoken")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = st
            .deleted_vaults
            .iter()
            .skip(skip)
            .take(st.page_size)
            .map(|(name, id, loc)| {
                json!({"id": format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.KeyVault/locations/{loc}/deletedVaults/{name}"),
                "name": name, "type": "Microsoft.KeyVault/deletedVaults",
                "properties": {"vaultId": id, "location": loc, "deletionDate": "2026-11-21T10:00:00Z", "purgeProtectionEnabled": false}})
            })
            .collect();
        let next = (skip + st.page_size < st.deleted_vaults.len()).then(|| {
            format!(
                "{}{}?api-version=2022-07-01&$skiptoken={}",
                st.base,
                path,
                skip + st.page_size
            )
        });
        return json_response(200, json!({"value": page, "nextLink": next}));
    }
    if segments.len() == 9
        && segments[2..5] == ["providers", "Microsoft.KeyVault", "locations"]
        && segments[6] == "deletedVaults"
        && segments[8] == "purge"
        && method == Method::POST
    {
        let (loc, name) = (segments[5].to_string(), segments[7].to_string());
        let before = st.deleted_vaults.len();
        st.deleted_vaults
            .retain(|(n, _, l)| !(n == &name && l == &loc));
        return if st.deleted_vaults.len() < before {
            StatusCode::ACCEPTED.into_response()
        } else {
            not_found()
        };
    }

    // Resource groups: list with one tag pair filter and nextLink paging; delete as an LRO.
    if segments.len() == 3 && segments[2] == "resourcegroups" && method == Method::GET {
        let filter = q.get("$filter").cloned().unwrap_or_default();
        let pair = parse_tag_filter(&filter);
        let matching: Vec<&(String, BTreeMap<String, String>)> = st
            .groups
            .iter()
            .filter(|(_, tags)| match &pair {
                // Tag names are case-insensitive on Azure; values are compared as given.
                Some((k, v)) => tags
                    .iter()
                    .any(|(n, t)| n.eq_ignore_ascii_case(k) && t == v),
                None => true,
            })
            .collect();
        let skip: usize = q
            .get("$skiptoken")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let page: Vec<Value> = matching
            .iter()
            .skip(skip)
            .take(st.page_size)
            .map(|(name, tags)| {
                json!({"id": format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}"),
                "name": name, "location": "westeurope", "tags": tags,
                "properties": {"provisioningState": "Succeeded"}})
            })
            .collect();
        let mut body = json!({"value": page});
        if skip + st.page_size < matching.len() {
            let mut next = url::Url::parse(&format!("{}{}", st.base, path)).unwrap();
            next.query_pairs_mut()
                .append_pair(
                    "api-version",
                    q.get("api-version").map(String::as_str).unwrap_or(""),
                )
                .append_pair("$filter", &filter)
                .append_pair("$skiptoken", &(skip + st.page_size).to_string());
            body["nextLink"] = json!(next.to_string());
        }
        return json_response(200, body);
    }
    if segments.len() == 4 && segments[2] == "resourcegroups" && method == Method::DELETE {
        let name = segments[3].to_string();
        let Some(i) = st.groups.iter().position(|(n, _)| *n == name) else {
            return not_found();
        };
        st.groups.remove(i);
        let op = format!("delete-{name}");
        st.operations.insert(op.clone(), 1);
        let location = format!("{}/operations/{op}", st.base);
        let retry_after = st.lro_retry_after.to_string();
        return (
            StatusCode::ACCEPTED,
            [("location", location), ("retry-after", retry_after)],
        )
            .into_response();
    }

    // Tags API at a resource group's scope: PATCH with `operation` Merge (add or overwrite the given tags),
    // Replace or Delete; 200 with the resulting tags; 404 when the scope does not exist.
    if segments.len() == 8
        && segments[2].eq_ignore_ascii_case("resourcegroups")
        && segments[4..] == ["providers", "Microsoft.Resources", "tags", "default"]
        && method == Method::PATCH
    {
        if q.get("api-version").map(String::as_str) != Some("2021-04-01") {
            return json_response(
                400,
                json!({"error": {"code": "InvalidApiVersionParameter"}}),
            );
        }
        let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
            return json_response(400, json!({"error": {"code": "InvalidRequestContent"}}));
        };
        let given: BTreeMap<String, String> =
            match serde_json::from_value(patch["properties"]["tags"].clone()) {
                Ok(t) => t,
                Err(_) => {
                    return json_response(400, json!({"error": {"code": "InvalidRequestContent"}}))
                }
            };
        let name = segments[3].to_string();
        let Some((_, tags)) = st
            .groups
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
        else {
            return json_response(
                404,
                json!({"error": {"code": "ResourceGroupNotFound", "message": format!("Resource group '{name}' could not be found.")}}),
            );
        };
        match patch["operation"].as_str() {
            Some("Merge") => tags.extend(given),
            Some("Replace") => *tags = given,
            Some("Delete") => tags.retain(|k, v| given.get(k) != Some(v)),
            _ => return json_response(400, json!({"error": {"code": "InvalidTagOperation"}})),
        }
        let tags = tags.clone();
        return json_response(
            200,
            json!({"id": format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{name}/providers/Microsoft.Resources/tags/default"),
            "name": "default", "type": "Microsoft.Resources/tags", "properties": {"tags": tags}}),
        );
    }

    // Container groups.
    if segments.len() >= 8 && segments[6] == "containerGroups" {
        if q.get("api-version").map(String::as_str) != Some("2025-09-01") {
            return json_response(400, json!({"error": {"code": "InvalidApiVersion"}}));
        }
        let name = segments[7].to_string();
        let rest = &segments[8..];
        return match (method.clone(), rest) {
            (Method::GET, []) => match st.container_groups.get(&name) {
                None => not_found(),
                Some(g) => {
                    json_response(200, with_instance_view(g.clone(), st.finished.get(&name)))
                }
            },
            (Method::PUT, []) => {
                let mut g: Value = serde_json::from_slice(&body).unwrap();
                g["name"] = json!(name);
                g["properties"]["provisioningState"] = json!("Creating");
                let existed = st.container_groups.insert(name, g.clone()).is_some();
                json_response(if existed { 200 } else { 201 }, g)
            }
            (Method::DELETE, []) => match st.container_groups.remove(&name) {
                Some(g) => json_response(200, g),
                None => StatusCode::NO_CONTENT.into_response(),
            },
            (Method::POST, ["stop"]) => {
                if st.container_groups.contains_key(&name) {
                    st.finished.entry(name).or_insert((137, String::new()));
                    StatusCode::NO_CONTENT.into_response()
                } else {
                    not_found()
                }
            }
            (Method::GET, ["containers", _, "logs"]) => {
                if !st.container_groups.contains_key(&name) {
                    return not_found();
                }
                let content = st
                    .finished
                    .get(&name)
                    .map(|(_, l)| l.clone())
                    .unwrap_or_default();
                json_response(200, json!({"content": content}))
            }
            _ => not_found(),
        };
    }
    not_found()
}

/// `tagName eq 'k' and tagValue eq 'v'`.
fn parse_tag_filter(filter: &str) -> Option<(String, String)> {
    let quoted: Vec<&str> = filter.split('\'').collect();
    if filter.starts_with("tagName eq") && quoted.len() >= 4 {
        Some((quoted[1].to_string(), quoted[3].replace("''", "'")))
    } else {
        None
    }
}

fn with_instance_view(mut g: Value, finished: Option<&(i32, String)>) -> Value {
    g["properties"]["provisioningState"] = json!("Succeeded");
    let current = match finished {
        Some((code, _)) => json!({"state": "Terminated", "exitCode": code,
            "startTime": "2025-01-01T01:00:00Z", "finishTime": "2025-01-01T01:05:00Z", "detailStatus": "Completed"}),
        None => {
            json!({"state": "Running", "startTime": "2025-01-01T01:00:00Z", "detailStatus": ""})
        }
    };
    // Secure values are never returned on GET.
    if let Some(containers) = g["properties"]["containers"].as_array_mut() {
        for c in containers {
            c["properties"]["instanceView"] = json!({"currentState": current, "restartCount": 0});
        }
    }
    g["properties"]["instanceView"] =
        json!({"state": if finished.is_some() { "Succeeded" } else { "Running" }});
    g
}
