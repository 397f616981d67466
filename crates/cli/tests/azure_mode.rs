//! `NIGHTSHIFT_MODE=azure` end to end through the built `nightshift` binary, from a workstation:
//! - the custom handler starts with every Azure target on a closed loopback port (no network reachable) and
//!   answers the Functions host's `GET /`: the adapters connect lazily;
//! - `nightshift sweep --dry-run --json` against a loopback fake of ARM that follows the documented REST contract
//!   (resource groups api-version 2021-04-01, `$filter=tagName eq 'k' and tagValue eq 'v'`, `value` + `nextLink`
//!   pages, bearer token) reports the expired managed groups and deletes nothing;
//! - `nightshift status --json` reads the run journal from Blob Storage: the real emulator (Azurite), started like
//!   the nightshift-azure tests do; skipped with a reason when Azurite is not installed, unless
//!   `NIGHTSHIFT_REQUIRE_AZURITE` is set.

#[path = "../../azure/tests/azure/azurite.rs"]
mod azurite;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SUBSCRIPTION: &str = "00000000-0000-0000-0000-0000000000a1";
const INSTANCE: &str = "nightshift-azure-test";
const ARM_TOKEN: &str = "arm-token-secret-value-for-tests";

fn nightshift() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nightshift"))
}

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Every setting azure mode requires, each target on `base` (a closed port unless a test overrides it).
fn azure_env(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("NIGHTSHIFT_MODE", "azure".into()),
        ("NIGHTSHIFT_INSTANCE", INSTANCE.into()),
        ("NIGHTSHIFT_SUBSCRIPTION_ID", SUBSCRIPTION.into()),
        ("NIGHTSHIFT_ARM_ENDPOINT", base.into()),
        ("NIGHTSHIFT_ARM_TOKEN", ARM_TOKEN.into()),
        ("NIGHTSHIFT_STORAGE_ACCOUNT", azurite::ACCOUNT.into()),
        ("NIGHTSHIFT_STORAGE_ENDPOINT", format!("{base}/{}", azurite::ACCOUNT)),
        ("NIGHTSHIFT_STORAGE_KEY", azurite::KEY.into()),
        ("NIGHTSHIFT_SERVICEBUS_NAMESPACE", "nightshift-test-ns".into()),
        ("NIGHTSHIFT_KEY_VAULT_URL", base.into()),
        ("NIGHTSHIFT_ACI_RESOURCE_GROUP", "rg-nightshift-jobs".into()),
        ("NIGHTSHIFT_ACI_LOCATION", "westeurope".into()),
        ("NIGHTSHIFT_RUNNER_IMAGE", "example.azurecr.io/nightshift-runner:test".into()),
        ("NIGHTSHIFT_ACI_IDENTITY_ID", format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/jobs")),
        ("NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID", "11111111-1111-1111-1111-111111111111".into()),
        ("NIGHTSHIFT_NOTIFY_WEBHOOK_SECRET", "notify-webhook-url".into()),
    ]
}

/// Runs the CLI in azure mode with the repository's catalog and a scratch state directory.
fn run_cli(env: &[(&'static str, String)], args: &[&str], state: &Path) -> Output {
    let out = nightshift()
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("--state-dir")
        .arg(state)
        .arg("--catalog")
        .arg(repo_root().join("catalog"))
        .args(args)
        .output()
        .expect("run nightshift");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains(ARM_TOKEN) && !all.contains(azurite::KEY),
        "a secret reached the output:\n{all}"
    );
    out
}

#[test]
fn the_handler_in_azure_mode_answers_get_root_with_no_network_reachable() {
    // Arrange: every Azure target on a closed loopback port; debug logs on, to prove they carry no secret.
    let base = format!("http://127.0.0.1:{}", closed_port());
    let port = closed_port();
    let state = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = nightshift()
        .arg("handler")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(azure_env(&base))
        .env("NIGHTSHIFT_STATE_DIR", state.path())
        .env("NIGHTSHIFT_LOG", "debug")
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the handler");

    // Act: poll GET / as the Functions host does.
    let url = format!("http://127.0.0.1:{port}/");
    let mut answer = None;
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the handler exited with {status} before answering");
        }
        if let Ok(r) = reqwest::blocking::get(&url) {
            answer = Some((r.status(), r.text().unwrap_or_default()));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ready_after = started.elapsed();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Assert
    let (status, body) = answer.unwrap_or_else(|| panic!("no answer on {url}; log:\n{log}"));
    assert_eq!(status, 200, "{body}");
    assert!(log.contains("nightshift handler listening"), "{log}");
    assert!(
        !log.contains(ARM_TOKEN) && !log.contains(azurite::KEY),
        "a secret reached the handler's log:\n{log}"
    );
    eprintln!("handler answered GET / {ready_after:?} after start");
}

/// The fake ARM: resource groups of the subscription, filtered on one tag pair as ARM does, two per page so the
/// client must follow `nextLink`; every request recorded.
#[derive(Clone, Default)]
struct Arm {
    base: Arc<Mutex<String>>,
    groups: Arc<Vec<(String, BTreeMap<String, String>)>>,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn arm(
    State(arm): State<Arm>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> axum::response::Response {
    arm.requests
        .lock()
        .unwrap()
        .push(format!("{method} {}", uri.path()));
    let authorised = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {ARM_TOKEN}"));
    if !authorised {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": "AuthenticationFailed"}})),
        )
            .into_response();
    }
    let list_path = format!("/subscriptions/{SUBSCRIPTION}/resourcegroups");
    if method != Method::GET || !uri.path().eq_ignore_ascii_case(&list_path) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": "ResourceNotFound"}})),
        )
            .into_response();
    }
    if q.get("api-version").map(String::as_str) != Some("2021-04-01") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": "InvalidApiVersionParameter"}})),
        )
            .into_response();
    }
    // `tagName eq 'k' and tagValue eq 'v'`
    let filter = q.get("$filter").cloned().unwrap_or_default();
    let quoted: Vec<&str> = filter.split('\'').collect();
    let (k, v) = (quoted.get(1).copied(), quoted.get(3).copied());
    let matching: Vec<Value> = arm
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
    let skip: usize = q
        .get("$skiptoken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = matching.iter().skip(skip).take(2).cloned().collect();
    let mut body = json!({"value": page});
    if skip + 2 < matching.len() {
        let base = arm.base.lock().unwrap().clone();
        let mut next = reqwest::Url::parse(&format!("{base}{list_path}")).unwrap();
        next.query_pairs_mut()
            .append_pair("api-version", "2021-04-01")
            .append_pair("$filter", &filter)
            .append_pair("$skiptoken", &(skip + 2).to_string());
        body["nextLink"] = json!(next.to_string());
    }
    Json(body).into_response()
}

use axum::Json;

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn managed(
    product: &str,
    env: &str,
    kind: &str,
    expires: Option<&str>,
) -> BTreeMap<String, String> {
    let mut t = tags(&[
        ("nightshift-managed-by", INSTANCE),
        ("nightshift-product", product),
        ("nightshift-environment", env),
        ("nightshift-run", &format!("{product}-{env}-n20260101")),
        ("nightshift-kind", kind),
    ]);
    if let Some(at) = expires {
        t.insert("nightshift-expires-at".into(), at.into());
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_dry_run_in_azure_mode_reports_the_expired_managed_groups_and_deletes_nothing() {
    // Arrange: two expired groups, one still valid, one persistent, one of another instance.
    let groups = vec![
        (
            "rg-shop-pr-1".to_string(),
            managed("shop", "pr-1", "pull-request", Some("2026-03-01T00:00:00Z")),
        ),
        (
            "rg-shop-nightly".to_string(),
            managed("shop", "nightly", "nightly", Some("2026-03-01T06:00:00Z")),
        ),
        (
            "rg-shop-pr-2".to_string(),
            managed("shop", "pr-2", "pull-request", Some("2026-03-09T00:00:00Z")),
        ),
        (
            "rg-shop-main".to_string(),
            managed("shop", "main", "persistent", None),
        ),
        ("rg-someone-else".to_string(), {
            let mut t = managed("shop", "pr-3", "pull-request", Some("2026-01-01T00:00:00Z"));
            t.insert("nightshift-managed-by".into(), "another-instance".into());
            t
        }),
    ];
    let fake = Arm {
        groups: Arc::new(groups),
        ..Arm::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *fake.base.lock().unwrap() = base.clone();
    let app = axum::Router::new().fallback(arm).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let env = azure_env(&base);
    let state = tempfile::tempdir().unwrap();

    // Act
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let state = state.path().to_path_buf();
        move || {
            run_cli(
                &env,
                &[
                    "sweep",
                    "--dry-run",
                    "--json",
                    "--now",
                    "2026-03-02T00:00:00Z",
                ],
                &state,
            )
        }
    })
    .await
    .unwrap();
    let took = started.elapsed();

    // Assert
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["deleted"], 0);
    let actions: BTreeMap<String, String> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["resource_group"].as_str().unwrap().to_string(),
                i["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(actions["rg-shop-pr-1"], "would-delete", "{report:#}");
    assert_eq!(actions["rg-shop-nightly"], "would-delete", "{report:#}");
    assert_eq!(actions["rg-shop-pr-2"], "kept", "{report:#}");
    assert_eq!(actions["rg-shop-main"], "kept", "{report:#}");
    assert!(!actions.contains_key("rg-someone-else"), "{report:#}");
    let requests = fake.requests.lock().unwrap().clone();
    assert!(
        requests.iter().all(|r| r.starts_with("GET ")),
        "{requests:?}"
    );
    assert_eq!(requests.len(), 2, "two pages, nothing else: {requests:?}");
    eprintln!("sweep --dry-run in azure mode took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_in_azure_mode_reads_the_journal_from_blob_storage() {
    let Some(azurite) = azurite::azurite() else {
        eprintln!("SKIPPED status_in_azure_mode_reads_the_journal_from_blob_storage: Azurite is not installed");
        return;
    };
    // Arrange: a container of its own in Azurite, holding one environment record written through the same adapter.
    let container = format!("status-{}", std::process::id());
    let mut env = azure_env(&format!("http://127.0.0.1:{}", closed_port()));
    env.retain(|(k, _)| *k != "NIGHTSHIFT_STORAGE_ENDPOINT");
    env.push(("NIGHTSHIFT_STORAGE_ENDPOINT", azurite.endpoint.clone()));
    env.push(("NIGHTSHIFT_STORAGE_CONTAINER", container.clone()));
    let lookup: HashMap<&str, String> = env.iter().cloned().collect();
    let config = nightshift_azure::AzureConfig::from_lookup(|k| lookup.get(k).cloned()).unwrap();
    let store = config.adapters().store;
    store.ensure_container().await.unwrap();
    let record = nightshift_app::repo::EnvironmentRecord {
        product: "orthense".into(),
        environment: "pr-42".into(),
        kind: "pull-request".into(),
        last_run: "orthense-pr-42-r1.4.0-abcd1234".into(),
        status: "ready".into(),
        expires_at: Some("2026-03-09T00:00:00Z".parse().unwrap()),
        destroyed_at: None,
        destroyed_reason: None,
        ..Default::default()
    };
    nightshift_app::repo::Repo::new(store)
        .put_environment(&record)
        .await
        .unwrap();
    let state = tempfile::tempdir().unwrap();

    // Act
    let started = Instant::now();
    let out = tokio::task::spawn_blocking({
        let state = state.path().to_path_buf();
        move || run_cli(&env, &["status", "--json"], &state)
    })
    .await
    .unwrap();
    let took = started.elapsed();

    // Assert
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["mode"], "azure");
    assert_eq!(report["instance"], INSTANCE);
    assert_eq!(report["runs"], json!([]));
    assert_eq!(
        report["environments"][0]["environment"], "pr-42",
        "{report:#}"
    );
    assert_eq!(report["environments"][0]["status"], "ready", "{report:#}");
    eprintln!("status in azure mode took {took:?}");
}

/// An `az` stand-in for `az account get-access-token -o json --scope <s>` (the documented answer), as an operator's
/// workstation after `az login` has it: the token is the one the fake ARM accepts. The Azure CLI credential runs
/// `az` from `PATH`: the stub's directory goes first on it. (crates/cli/tests/azure_workstation.rs has the rest.)
fn az_stub(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let script = format!(
        r#"#!/bin/sh
[ "$1 $2" = "account get-access-token" ] || {{ echo "unexpected: $*" >&2; exit 2; }}
now=$(date +%s)
printf '{{"accessToken": "{ARM_TOKEN}", "expiresOn": "2099-01-01 00:00:00.000000", "expires_on": %s, "subscription": "sub", "tenant": "tenant", "tokenType": "Bearer"}}\n' $((now + 3600))
"#
    );
    let path = dir.join("az");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workstation_sweep_dry_run_needs_only_arm_and_store_settings_and_the_azure_cli_login() {
    // Arrange: no job, Service Bus or Key Vault setting at all; the Azure CLI credential (a stub on loopback terms).
    let fake = Arm {
        groups: Arc::new(vec![(
            "rg-shop-pr-1".to_string(),
            managed("shop", "pr-1", "pull-request", Some("2026-03-01T00:00:00Z")),
        )]),
        ..Arm::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *fake.base.lock().unwrap() = base.clone();
    let app = axum::Router::new().fallback(arm).with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let state = tempfile::tempdir().unwrap();
    let env: Vec<(&'static str, String)> = vec![
        ("NIGHTSHIFT_MODE", "azure".into()),
        ("NIGHTSHIFT_INSTANCE", INSTANCE.into()),
        ("NIGHTSHIFT_SUBSCRIPTION_ID", SUBSCRIPTION.into()),
        ("NIGHTSHIFT_ARM_ENDPOINT", base.clone()),
        ("NIGHTSHIFT_STORAGE_ACCOUNT", "nsstore".into()),
        ("NIGHTSHIFT_CREDENTIAL", "azure-cli".into()),
        ("PATH", {
            az_stub(state.path());
            format!(
                "{}:{}",
                state.path().display(),
                std::env::var("PATH").unwrap_or_default()
            )
        }),
    ];

    // Act
    let (dry_run, status_without_store) = tokio::task::spawn_blocking({
        let state = state.path().to_path_buf();
        move || {
            let dry = run_cli(
                &env,
                &[
                    "sweep",
                    "--dry-run",
                    "--json",
                    "--now",
                    "2026-03-02T00:00:00Z",
                ],
                &state,
            );
            let no_store: Vec<_> = env
                .iter()
                .filter(|(k, _)| *k != "NIGHTSHIFT_STORAGE_ACCOUNT")
                .cloned()
                .collect();
            (dry, run_cli(&no_store, &["status", "--json"], &state))
        }
    })
    .await
    .unwrap();

    // Assert: the sweep ran with what it needs; status names the one setting it misses.
    assert!(
        dry_run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&dry_run.stdout),
        String::from_utf8_lossy(&dry_run.stderr)
    );
    let report: Value = serde_json::from_slice(&dry_run.stdout).expect("JSON report");
    assert_eq!(report["items"][0]["action"], "would-delete", "{report:#}");
    assert!(!status_without_store.status.success());
    let err = String::from_utf8_lossy(&status_without_store.stderr);
    assert!(err.contains("NIGHTSHIFT_STORAGE_ACCOUNT"), "{err}");
    assert!(
        !err.contains("NIGHTSHIFT_ACI_"),
        "status must not ask for job settings: {err}"
    );
}

#[test]
fn release_in_azure_mode_sends_through_the_service_bus_adapter_not_the_local_queue() {
    // Every Azure target on a closed loopback port: the send must fail at the Service Bus adapter (its SAS key
    // comes from Key Vault first), say so, exit 1, and leave nothing on a local queue.
    let base = format!("http://127.0.0.1:{}", closed_port());
    let state = tempfile::tempdir().unwrap();
    let out = run_cli(
        &azure_env(&base),
        &[
            "release",
            "orthense",
            "pr-7",
            "1.4.2",
            "--requested-by",
            "ci",
        ],
        state.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("sending the deploy message to the releases queue"),
        "{err}"
    );
    assert!(
        !state.path().join("queues").exists(),
        "nothing went to a local queue"
    );
}
