//! Managed identity and Key Vault against the REST contract (loopback server following the documented App
//! Service identity endpoint, IMDS and Key Vault behaviour).

use crate::fake_arm::{spawn_fake_arm, IDENTITY_HEADER};
use nightshift_azure::identity::{ARM_RESOURCE, VAULT_RESOURCE};
use nightshift_azure::{KeyVaultSecrets, ManagedIdentity, StaticToken, TokenProvider};
use nightshift_core::ports::{PortError, Secrets};
use std::sync::Arc;

#[tokio::test]
async fn contract_app_service_tokens_are_fetched_with_the_identity_header_and_cached_per_resource()
{
    let fake = spawn_fake_arm().await;
    let mi = ManagedIdentity::app_service(
        format!("{}/msi/token", fake.base),
        IDENTITY_HEADER,
        Some("client-1".into()),
    );

    let a = mi.token(ARM_RESOURCE).await.unwrap();
    let b = mi.token(ARM_RESOURCE).await.unwrap();
    let v = mi.token(VAULT_RESOURCE).await.unwrap();

    assert_eq!(a.expose(), b.expose());
    assert_ne!(a.expose(), v.expose());
    let calls = fake.requests_to("GET", "/msi/token");
    assert_eq!(calls.len(), 2, "one fetch per resource");
    assert!(calls[0].query.contains("client_id=client-1"));
    assert!(calls[0].query.contains("api-version=2019-08-01"));
    assert!(
        !format!("{a:?} {mi:?}").contains("mi-token")
            && !format!("{mi:?}").contains(IDENTITY_HEADER)
    );
}

#[tokio::test]
async fn contract_a_token_within_five_minutes_of_expiry_is_fetched_again() {
    let fake = spawn_fake_arm().await;
    fake.set(|s| s.token_ttl_secs = 240);
    let mi = ManagedIdentity::imds_at(
        format!("{}/metadata/identity/oauth2/token", fake.base),
        None,
    );

    let a = mi.token(ARM_RESOURCE).await.unwrap();
    let b = mi.token(ARM_RESOURCE).await.unwrap();

    assert_ne!(a.expose(), b.expose());
    let calls = fake.requests_to("GET", "/metadata/identity/oauth2/token");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].headers["metadata"], "true");
}

#[tokio::test]
async fn contract_a_wrong_identity_header_is_a_permanent_error() {
    let fake = spawn_fake_arm().await;
    let mi = ManagedIdentity::app_service(format!("{}/msi/token", fake.base), "wrong", None);

    let err = mi.token(ARM_RESOURCE).await.unwrap_err();

    assert!(matches!(err, PortError::Permanent(_)), "{err:?}");
}

#[tokio::test]
async fn contract_key_vault_secrets_are_read_by_name_with_a_vault_token() {
    let fake = spawn_fake_arm().await;
    fake.set(|s| {
        s.secrets.insert("sql-admin".into(), "p@ss-value".into());
    });
    let kv = KeyVaultSecrets::new(&fake.base, Arc::new(StaticToken::new("kv-token")));

    let value = kv.get("sql-admin").await.unwrap();
    let missing = kv.get("nope").await.unwrap_err();

    assert_eq!(value.expose(), "p@ss-value");
    assert!(!format!("{value:?}").contains("p@ss"));
    assert!(matches!(missing, PortError::Permanent(_)));
    let call = &fake.requests_to("GET", "/secrets/sql-admin")[0];
    assert_eq!(call.query, "api-version=7.4");
    assert_eq!(call.headers["authorization"], "Bearer kv-token");
}

/// An `az`-compatible stub (the Azure CLI cannot log in here): it answers `account get-access-token --resource R
/// --output json` with the documented fields, counts its calls in a file, and fails like `az` does when asked to
/// by the environment of the test.
fn az_stub(dir: &std::path::Path, expires_in: i64, fail: bool) -> String {
    use std::os::unix::fs::PermissionsExt;
    let calls = dir.join("calls");
    let script = format!(
        r#"#!/bin/sh
echo "$*" >> '{calls}'
[ "$1 $2" = "account get-access-token" ] || {{ echo "unexpected: $*" >&2; exit 2; }}
{fail}
resource=$4
now=$(date +%s)
printf '{{"accessToken": "cli-token-for-%s", "expiresOn": "2099-01-01 00:00:00.000000", "expires_on": %s, "subscription": "sub", "tenant": "tenant", "tokenType": "Bearer"}}\n' "$resource" $((now + {expires_in}))
"#,
        calls = calls.display(),
        fail = if fail {
            "echo \"ERROR: Please run 'az login' to setup account.\" >&2; exit 1"
        } else {
            ""
        },
    );
    let path = dir.join("az");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn contract_azure_cli_tokens_come_from_account_get_access_token_per_resource_and_are_cached()
{
    let dir = tempfile::tempdir().unwrap();
    let cli = nightshift_azure::AzureCli::new(az_stub(dir.path(), 3600, false));

    let a = cli.token(ARM_RESOURCE).await.unwrap();
    let b = cli.token(ARM_RESOURCE).await.unwrap();
    let v = cli.token(VAULT_RESOURCE).await.unwrap();

    assert_eq!(a.expose(), format!("cli-token-for-{ARM_RESOURCE}"));
    assert_eq!(
        a.expose(),
        b.expose(),
        "the second call is served from the cache"
    );
    assert_eq!(v.expose(), format!("cli-token-for-{VAULT_RESOURCE}"));
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        vec![
            format!("account get-access-token --resource {ARM_RESOURCE} --output json"),
            format!("account get-access-token --resource {VAULT_RESOURCE} --output json"),
        ]
    );
    assert!(
        !format!("{a:?} {cli:?}").contains("cli-token"),
        "tokens never print"
    );
}

#[tokio::test]
async fn contract_an_azure_cli_token_near_its_expiry_is_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let cli = nightshift_azure::AzureCli::new(az_stub(dir.path(), 120, false));
    cli.token(ARM_RESOURCE).await.unwrap();
    cli.token(ARM_RESOURCE).await.unwrap();
    let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
    assert_eq!(
        calls.lines().count(),
        2,
        "a token 2 minutes from expiry is stale"
    );
}

#[tokio::test]
async fn an_azure_cli_that_is_not_logged_in_is_a_permanent_error_that_says_to_log_in() {
    let dir = tempfile::tempdir().unwrap();
    let cli = nightshift_azure::AzureCli::new(az_stub(dir.path(), 3600, true));
    let e = cli.token(ARM_RESOURCE).await.unwrap_err();
    assert!(matches!(e, PortError::Permanent(_)), "{e:?}");
    assert!(e.to_string().contains("az login"), "{e}");

    let missing =
        nightshift_azure::AzureCli::new(dir.path().join("no-such-az").display().to_string());
    let e = missing.token(ARM_RESOURCE).await.unwrap_err();
    assert!(e.to_string().contains("install it"), "{e}");
}
