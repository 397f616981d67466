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
