//! nightshift from a workstation or CI in Azure mode, through the built binary, with the official credentials
//! (`azure_identity`) and only the settings each command needs.
//!
//! - The Azure CLI credential runs `az account get-access-token -o json --scope S` from `PATH`: the real CLI cannot
//!   log in here, so an `az`-compatible stub (the documented answer: `accessToken`, `expires_on`, `tokenType`) is
//!   first on the child's `PATH`, as `az login` would leave a workstation. It gives one token per audience.
//! - ARM, Key Vault, Service Bus's REST send and the Blob listing are one loopback fake following their documented
//!   contracts (bearer token of the right audience; Service Bus: a SAS of the Send policy); each request is recorded.
//! - The managed identity of the Function App: the App Service endpoint shape (`IDENTITY_ENDPOINT`,
//!   `IDENTITY_HEADER`, api-version 2019-08-01, `expires_on` as a string) on the same fake.
//! - `nightshift doctor` writes and reads its probe in a store: the real emulator (Azurite) with its account key,
//!   because Azurite takes Entra tokens only over HTTPS; skipped with a reason when Azurite is not installed, unless
//!   `NIGHTSHIFT_REQUIRE_AZURITE` is set. The store's bearer path is covered by the nightshift-azure blob tests.

#[path = "../../../azure/tests/azure/azurite.rs"]
mod azurite;
mod fake;

use fake::{az_scopes, az_stub, spawn, Fake};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

const SUBSCRIPTION: &str = "00000000-0000-0000-0000-0000000000a1";
const INSTANCE: &str = "nightshift-workstation-test";
const ARM_TOKEN: &str = "cli-arm-token-for-tests";
const VAULT_TOKEN: &str = "cli-vault-token-for-tests";
const STORAGE_TOKEN: &str = "cli-storage-token-for-tests";
const IDENTITY_HEADER: &str = "app-service-identity-header-value";
const SEND_KEY: &str = "c2VuZC1vbmx5LXBvbGljeS1rZXktZm9yLXRlc3Rz";
const NAMESPACE: &str = "nightshift-test-ns";

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// A workstation after `az login`: the stub first on `PATH`, the Azure CLI credential, Azure mode.
fn workstation(dir: &Path) -> Vec<(&'static str, String)> {
    az_stub(dir);
    let path = std::env::var("PATH").unwrap_or_default();
    vec![
        ("PATH", format!("{}:{path}", dir.display())),
        ("NIGHTSHIFT_MODE", "azure".into()),
        ("NIGHTSHIFT_INSTANCE", INSTANCE.into()),
        ("NIGHTSHIFT_CREDENTIAL", "azure-cli".into()),
        // Every log line, the SDKs' included: run_cli checks that no token or key reaches them.
        ("NIGHTSHIFT_LOG", "trace".into()),
    ]
}

/// Runs the CLI with exactly `env` (no inherited variable) and the repository's catalog; no token, key or identity
/// header may reach its output.
fn run_cli(env: &[(&'static str, String)], args: &[&str], state: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_nightshift"))
        .env_clear()
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
    for secret in [
        ARM_TOKEN,
        VAULT_TOKEN,
        STORAGE_TOKEN,
        IDENTITY_HEADER,
        SEND_KEY,
        azurite::KEY,
    ] {
        assert!(!all.contains(secret), "a secret reached the output:\n{all}");
    }
    out
}

/// Runs the CLI off the async runtime (the fake serves on it).
async fn run(env: Vec<(&'static str, String)>, args: &[&str], state: &Path) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let state = state.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&env, &args, &state)
    })
    .await
    .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn expired_group() -> Arc<Vec<(String, BTreeMap<String, String>)>> {
    let tags: BTreeMap<String, String> = [
        ("nightshift-managed-by", INSTANCE),
        ("nightshift-product", "shop"),
        ("nightshift-environment", "pr-1"),
        ("nightshift-run", "shop-pr-1-n20260101"),
        ("nightshift-kind", "pull-request"),
        ("nightshift-expires-at", "2026-03-01T00:00:00Z"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Arc::new(vec![("rg-shop-pr-1".to_string(), tags)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_from_a_workstation_needs_only_the_store_setting_and_reads_it_with_the_azure_cli_token(
) {
    let fake = Fake::default();
    let base = spawn(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = workstation(dir.path());
    env.push(("NIGHTSHIFT_STORAGE_ACCOUNT", "nsstore".into()));
    env.push(("NIGHTSHIFT_STORAGE_ENDPOINT", format!("{base}/nsstore")));
    env.push(("NIGHTSHIFT_STORAGE_CONTAINER", "journals".into()));

    let out = run(env.clone(), &["status", "--json"], dir.path()).await;
    let environments = run(env, &["environments", "--json"], dir.path()).await;

    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["mode"], "azure");
    assert_eq!(report["runs"], json!([]), "{report:#}");
    let listed = fake.seen("/nsstore/journals");
    assert!(!listed.is_empty(), "status read the journal container");
    assert!(
        listed
            .iter()
            .all(|s| s.headers["authorization"] == format!("Bearer {STORAGE_TOKEN}")),
        "with the CLI's storage token"
    );
    assert!(environments.status.success(), "{}", text(&environments));
    let listed: Value = serde_json::from_slice(&environments.stdout).expect("JSON list");
    assert_eq!(listed, json!({"environments": [], "next_cursor": null}));
    assert_eq!(
        az_scopes(dir.path()),
        [
            "https://storage.azure.com/.default",
            "https://storage.azure.com/.default"
        ],
        "one token per command, cached for every listing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_dry_run_from_a_workstation_needs_only_arm_and_store_settings_and_lists_with_the_azure_cli_token(
) {
    let fake = Fake {
        groups: expired_group(),
        ..Fake::default()
    };
    let base = spawn(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = workstation(dir.path());
    env.push(("NIGHTSHIFT_SUBSCRIPTION_ID", SUBSCRIPTION.into()));
    env.push(("NIGHTSHIFT_ARM_ENDPOINT", base));
    env.push(("NIGHTSHIFT_STORAGE_ACCOUNT", "nsstore".into()));

    let args = [
        "sweep",
        "--dry-run",
        "--json",
        "--now",
        "2026-03-02T00:00:00Z",
    ];
    let out = run(env, &args, dir.path()).await;

    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["items"][0]["action"], "would-delete", "{report:#}");
    assert_eq!(report["deleted"], 0);
    assert!(fake
        .seen("/")
        .iter()
        .all(|s| s.method == "GET" && s.headers["authorization"] == format!("Bearer {ARM_TOKEN}")));
    assert_eq!(
        az_scopes(dir.path()),
        ["https://management.azure.com/.default"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_and_close_from_a_workstation_need_only_the_service_bus_settings_and_sign_with_the_key_read_with_the_azure_cli_token(
) {
    let fake = Fake::default();
    let base = spawn(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = workstation(dir.path());
    env.push(("NIGHTSHIFT_SERVICEBUS_NAMESPACE", NAMESPACE.into()));
    env.push(("NIGHTSHIFT_SERVICEBUS_ENDPOINT", base.clone()));
    let args = [
        "release",
        "orthense",
        "pr-7",
        "1.4.2",
        "--requested-by",
        "ci",
        "--message-id",
        "gh-42-1",
        "--json",
    ];

    // Without the vault that holds the send key: the one missing setting is named, nothing about jobs or ARM.
    let missing = run(env.clone(), &args, dir.path()).await;
    env.push(("NIGHTSHIFT_KEY_VAULT_URL", base));
    let env_again = env.clone();
    let out = run(env, &args, dir.path()).await;

    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("NIGHTSHIFT_KEY_VAULT_URL"), "{err}");
    assert!(
        !err.contains("NIGHTSHIFT_ACI_") && !err.contains("NIGHTSHIFT_SUBSCRIPTION_ID"),
        "{err}"
    );
    assert!(out.status.success(), "{}", text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed["message_id"], "gh-42-1");
    let key_reads = fake.seen("/secrets/servicebus-send-key");
    assert_eq!(key_reads.len(), 1);
    assert_eq!(
        key_reads[0].headers["authorization"],
        format!("Bearer {VAULT_TOKEN}")
    );
    let sends = fake.seen("/releases/messages");
    assert_eq!(sends.len(), 1, "{:?}", fake.seen("/"));
    let send = &sends[0];
    let auth = &send.headers["authorization"];
    assert!(
        auth.contains(&format!(
            "sr=https%3A%2F%2F{NAMESPACE}.servicebus.windows.net"
        )),
        "the SAS signs the namespace's address: {auth}"
    );
    let properties: Value = serde_json::from_str(&send.headers["brokerproperties"]).unwrap();
    assert_eq!(properties["MessageId"], "gh-42-1");
    let body: Value = serde_json::from_str(&send.body).unwrap();
    assert_eq!(body["product"], "orthense");
    assert_eq!(body["environment"], "pr-7");
    assert_eq!(az_scopes(dir.path()), ["https://vault.azure.net/.default"]);
    assert!(
        !dir.path().join("queues").exists(),
        "nothing went to a local queue"
    );

    // `close` is the same path with the same settings.
    let closed = run(
        env_again,
        &["close", "orthense", "pr-7", "--requested-by", "ci"],
        dir.path(),
    )
    .await;
    assert!(closed.status.success(), "{}", text(&closed));
    let sends = fake.seen("/releases/messages");
    assert_eq!(sends.len(), 2);
    let body: Value = serde_json::from_str(&sends[1].body).unwrap();
    assert_eq!(body["environment"], "pr-7");
    assert_ne!(
        sends[1].headers["brokerproperties"], sends[0].headers["brokerproperties"],
        "a new action, a new MessageId"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_function_app_the_managed_identity_takes_its_token_from_the_app_service_endpoint() {
    let fake = Fake {
        groups: expired_group(),
        ..Fake::default()
    };
    let base = spawn(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("NIGHTSHIFT_MODE", "azure".into()),
        ("NIGHTSHIFT_INSTANCE", INSTANCE.into()),
        ("NIGHTSHIFT_SUBSCRIPTION_ID", SUBSCRIPTION.into()),
        ("NIGHTSHIFT_ARM_ENDPOINT", base.clone()),
        ("NIGHTSHIFT_STORAGE_ACCOUNT", "nsstore".into()),
        ("IDENTITY_ENDPOINT", format!("{base}/msi/token")),
        ("IDENTITY_HEADER", IDENTITY_HEADER.into()),
        ("AZURE_CLIENT_ID", "orchestrator-client-id".into()),
        // Every log line, the SDK's HTTP logging included: run_cli checks no header value or token reaches them.
        ("NIGHTSHIFT_LOG", "trace".into()),
    ];

    let args = [
        "sweep",
        "--dry-run",
        "--json",
        "--now",
        "2026-03-02T00:00:00Z",
    ];
    let out = run(env, &args, dir.path()).await;

    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["items"][0]["action"], "would-delete", "{report:#}");
    let asked = fake.seen("/msi/token");
    assert_eq!(asked.len(), 1, "one token, cached");
    assert_eq!(asked[0].query["client_id"], "orchestrator-client-id");
    assert_eq!(asked[0].query["resource"], "https://management.azure.com");
    assert_eq!(asked[0].headers["x-identity-header"], IDENTITY_HEADER);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/msi/token"),
        "the trace logs show the token request (without its secrets)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_from_a_workstation_passes_every_check_against_the_loopback_fakes() {
    let Some(azurite) = azurite::azurite() else {
        eprintln!("SKIPPED doctor_from_a_workstation_passes_every_check_against_the_loopback_fakes: Azurite is not installed");
        return;
    };
    let fake = Fake {
        groups: expired_group(),
        ..Fake::default()
    };
    let base = spawn(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    // The journal container, created as Terraform does.
    let container = format!("doctor-{}", std::process::id());
    nightshift_azure::BlobStore::new(
        azurite::ACCOUNT,
        Some(&azurite.endpoint),
        &container,
        nightshift_azure::BlobAuth::Key(nightshift_azure::Secret::new(azurite::KEY)),
        Arc::new(nightshift_azure::ReqwestTransport::new()),
    )
    .ensure_container()
    .await
    .unwrap();
    let mut env = workstation(dir.path());
    env.extend([
        ("NIGHTSHIFT_SUBSCRIPTION_ID", SUBSCRIPTION.into()),
        ("NIGHTSHIFT_ARM_ENDPOINT", base.clone()),
        ("NIGHTSHIFT_STORAGE_ACCOUNT", azurite::ACCOUNT.into()),
        ("NIGHTSHIFT_STORAGE_ENDPOINT", azurite.endpoint.clone()),
        ("NIGHTSHIFT_STORAGE_CONTAINER", container),
        ("NIGHTSHIFT_STORAGE_KEY", azurite::KEY.into()),
        ("NIGHTSHIFT_SERVICEBUS_NAMESPACE", NAMESPACE.into()),
        ("NIGHTSHIFT_KEY_VAULT_URL", base),
        ("NIGHTSHIFT_ACI_RESOURCE_GROUP", "rg-nightshift-jobs".into()),
        ("NIGHTSHIFT_ACI_LOCATION", "westeurope".into()),
        (
            "NIGHTSHIFT_RUNNER_IMAGE",
            "example.azurecr.io/nightshift-runner:1.4.2".into(),
        ),
        ("NIGHTSHIFT_ACI_IDENTITY_ID", format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/jobs")),
        (
            "NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID",
            "11111111-1111-1111-1111-111111111111".into(),
        ),
    ]);

    let out = run(env, &["doctor"], dir.path()).await;

    let report = text(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(report.contains("0 failed"), "{report}");
    for check in [
        "store read/write",
        "resource groups list",
        "key vault get",
        "runner image reference",
    ] {
        assert!(
            report
                .lines()
                .any(|l| l.starts_with("ok") && l.contains(check)),
            "{check}:\n{report}"
        );
    }
    let mut scopes = az_scopes(dir.path());
    scopes.sort();
    assert_eq!(
        scopes,
        [
            "https://management.azure.com/.default",
            "https://vault.azure.net/.default"
        ]
    );
}
