//! The Azure CLI credential (`azure_identity`'s `AzureCliCredential`) against an `az`-compatible stub: the real CLI
//! cannot log in here. The credential runs `/bin/sh -c "cd /bin && az account get-access-token -o json --scope S"`
//! with `az` from `PATH`, so this binary puts the stub first on its own `PATH`, once, before any test runs (a binary
//! of its own: no other test shares that environment). The stub answers with the documented fields
//! (`accessToken`, `expires_on` in epoch seconds since CLI 2.54, `tokenType`), chosen by the scope's host:
//! `soon.example` expires in two minutes, `logged-out.example` fails as `az` does before `az login`.

use nightshift_azure::{Credential, CredentialKind, ReqwestTransport, TokenProvider};
use nightshift_core::ports::PortError;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The stub's directory (first on `PATH`) and its call log.
fn stub() -> &'static (tempfile::TempDir, PathBuf) {
    static STUB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    STUB.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("calls");
        let script = format!(
            r#"#!/bin/sh
echo "$*" >> '{calls}'
[ "$1 $2" = "account get-access-token" ] || {{ echo "unexpected: $*" >&2; exit 2; }}
scope=""
while [ $# -gt 0 ]; do [ "$1" = "--scope" ] && scope=$2; shift; done
now=$(date +%s)
ttl=3600
case "$scope" in
  *logged-out.example*) echo "ERROR: Please run 'az login' to setup account." >&2; exit 1 ;;
  *soon.example*) ttl=120 ;;
esac
printf '{{"accessToken": "cli-token-%s-for-%s", "expiresOn": "2099-01-01 00:00:00.000000", "expires_on": %s, "subscription": "sub", "tenant": "tenant", "tokenType": "Bearer"}}\n' "$now$$" "$scope" $((now + ttl))
"#,
            calls = calls.display(),
        );
        let az = dir.path().join("az");
        std::fs::write(&az, script).unwrap();
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir.path().to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        // Set once, before any credential of this binary runs (every test calls stub() first).
        std::env::set_var("PATH", std::env::join_paths(dirs).unwrap());
        (dir, calls)
    })
}

fn cli() -> Credential {
    stub();
    Credential::new(CredentialKind::AzureCli, Arc::new(ReqwestTransport::new()))
}

/// The stub's calls whose scope is on `host`.
fn calls_for(host: &str) -> Vec<String> {
    std::fs::read_to_string(&stub().1)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(host))
        .map(String::from)
        .collect()
}

#[tokio::test]
async fn contract_azure_cli_tokens_come_from_account_get_access_token_per_scope_and_are_cached() {
    let cli = cli();

    let a = cli.token("https://cache-a.example/").await.unwrap();
    let b = cli.token("https://cache-a.example/").await.unwrap();
    let v = cli.token("https://cache-b.example").await.unwrap();

    assert!(
        a.expose()
            .ends_with("-for-https://cache-a.example/.default"),
        "{}",
        a.expose()
    );
    assert_eq!(
        a.expose(),
        b.expose(),
        "the second call is served from the cache"
    );
    assert!(v
        .expose()
        .ends_with("-for-https://cache-b.example/.default"));
    assert_eq!(
        calls_for("cache-a.example"),
        ["account get-access-token -o json --scope https://cache-a.example/.default"]
    );
    assert_eq!(calls_for("cache-b.example").len(), 1);
    assert!(
        !format!("{a:?} {cli:?}").contains("cli-token"),
        "tokens never print"
    );
}

#[tokio::test]
async fn contract_an_azure_cli_token_near_its_expiry_is_fetched_again() {
    let cli = cli();

    cli.token("https://soon.example/").await.unwrap();
    cli.token("https://soon.example/").await.unwrap();

    assert_eq!(
        calls_for("soon.example").len(),
        2,
        "a token 2 minutes from expiry is stale"
    );
}

#[tokio::test]
async fn an_azure_cli_that_is_not_logged_in_is_a_permanent_error_that_says_to_log_in() {
    let cli = cli();

    let e = cli.token("https://logged-out.example/").await.unwrap_err();

    assert!(matches!(e, PortError::Permanent(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("Please run 'az login'"),
        "the CLI's own words: {text}"
    );
    assert!(text.contains("run `az login`"), "what to do next: {text}");
}
