//! AzureConfig from environment variables, and lazy adapters (no network I/O at construction).

use crate::fake_arm::spawn_fake_arm;
use nightshift_azure::{AzureConfig, ConfigError, CredentialKind, TokenSource};
use std::collections::HashMap;

fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut v: HashMap<String, String> = [
        ("NIGHTSHIFT_SUBSCRIPTION_ID", "sub-1"),
        ("NIGHTSHIFT_STORAGE_ACCOUNT", "nsstore"),
        ("NIGHTSHIFT_STORAGE_KEY", "storage-key-secret-value"),
        ("NIGHTSHIFT_SERVICEBUS_NAMESPACE", "contoso-ns"),
        ("NIGHTSHIFT_KEY_VAULT_URL", "https://contoso.vault.azure.net/"),
        ("NIGHTSHIFT_ACI_RESOURCE_GROUP", "jobs"),
        ("NIGHTSHIFT_ACI_LOCATION", "westeurope"),
        ("NIGHTSHIFT_RUNNER_IMAGE", "contoso.azurecr.io/runner:1"),
        ("NIGHTSHIFT_ACI_IDENTITY_ID", "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/runner"),
        ("NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID", "cid"),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:41234/msi/token"),
        ("IDENTITY_HEADER", "identity-header-secret-value"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, val) in extra {
        v.insert(k.to_string(), val.to_string());
    }
    v
}

#[test]
fn config_reads_every_variable_with_defaults_and_prints_no_secret() {
    let v = vars(&[]);

    let config = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap();

    assert_eq!(config.arm_endpoint, "https://management.azure.com");
    assert_eq!(config.storage_container, "nightshift");
    assert_eq!(config.key_vault_url, "https://contoso.vault.azure.net");
    assert_eq!(
        config.aci.key_vault_url.as_deref(),
        Some("https://contoso.vault.azure.net")
    );
    assert_eq!(
        config.token_source,
        TokenSource::Credential(CredentialKind::ManagedIdentity { client_id: None })
    );
    let debug = format!("{config:?} {:?}", config.adapters());
    assert!(
        !debug.contains("storage-key-secret-value")
            && !debug.contains("identity-header-secret-value"),
        "{debug}"
    );
}

#[test]
fn config_prefers_a_static_arm_token_and_names_a_missing_variable() {
    let v = vars(&[
        ("NIGHTSHIFT_ARM_TOKEN", "static-token-secret"),
        ("NIGHTSHIFT_ARM_ENDPOINT", "http://127.0.0.1:1"),
    ]);
    let config = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap();
    assert!(matches!(config.token_source, TokenSource::Static(_)));
    assert!(!format!("{config:?}").contains("static-token-secret"));

    let mut v = vars(&[]);
    v.remove("NIGHTSHIFT_RUNNER_IMAGE");
    let err = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap_err();
    assert_eq!(err, ConfigError::Missing("NIGHTSHIFT_RUNNER_IMAGE"));
    assert!(err.to_string().contains("NIGHTSHIFT_RUNNER_IMAGE"));
}

#[test]
fn config_takes_the_credential_nightshift_credential_names_and_refuses_an_unknown_one() {
    let v = vars(&[("NIGHTSHIFT_CREDENTIAL", "azure-cli")]);
    let config = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap();
    assert_eq!(
        config.token_source,
        TokenSource::Credential(CredentialKind::AzureCli),
        "azure-cli wins over the platform's identity endpoint"
    );

    let v = vars(&[
        ("NIGHTSHIFT_CREDENTIAL", "workload-identity"),
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_CLIENT_ID", "client-1"),
        ("AZURE_FEDERATED_TOKEN_FILE", "/tmp/oidc-token"),
    ]);
    let config = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap();
    assert_eq!(
        config.token_source,
        TokenSource::Credential(CredentialKind::WorkloadIdentity {
            tenant_id: "tenant-1".into(),
            client_id: "client-1".into(),
            token_file: "/tmp/oidc-token".into(),
        })
    );

    let v = vars(&[("NIGHTSHIFT_CREDENTIAL", "client-secret")]);
    let err = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap_err();
    assert!(
        err.to_string().contains("NIGHTSHIFT_CREDENTIAL")
            && err.to_string().contains("azure-cli")
            && err.to_string().contains("workload-identity"),
        "{err}"
    );
}

#[test]
fn config_names_what_workload_identity_misses_and_refuses_the_settings_of_the_old_token_code() {
    let v = vars(&[
        ("NIGHTSHIFT_CREDENTIAL", "workload-identity"),
        ("AZURE_TENANT_ID", "tenant-1"),
        ("AZURE_CLIENT_ID", "client-1"),
    ]);
    assert_eq!(
        AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap_err(),
        ConfigError::Missing("AZURE_FEDERATED_TOKEN_FILE")
    );

    for old in ["NIGHTSHIFT_AZURE_CLI", "NIGHTSHIFT_IMDS_ENDPOINT"] {
        let v = vars(&[(old, "/opt/az/bin/az")]);
        let err = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { name, .. } if name == old),
            "{err}"
        );
        assert!(err.to_string().contains("unset it"), "{err}");
    }
}

#[tokio::test]
async fn contract_building_every_adapter_performs_no_network_io() {
    let fake = spawn_fake_arm().await;
    let msi = format!("{}/msi/token", fake.base);
    let v = vars(&[
        ("NIGHTSHIFT_ARM_ENDPOINT", fake.base.as_str()),
        ("NIGHTSHIFT_KEY_VAULT_URL", fake.base.as_str()),
        ("NIGHTSHIFT_STORAGE_ENDPOINT", fake.base.as_str()),
        ("IDENTITY_ENDPOINT", msi.as_str()),
    ]);
    let config = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap();

    let adapters = config.adapters();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;

    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    drop(adapters);
}

#[tokio::test]
async fn contract_the_sweep_lists_groups_in_the_environments_subscription_not_the_jobs_one() {
    // The fake ARM serves one subscription only (fake_arm::SUBSCRIPTION): the environments'. The jobs' container
    // groups live in another one, as when terraform/orchestrator sets environments_subscription_id.
    use nightshift_core::ports::Cloud;
    let fake = spawn_fake_arm().await;
    fake.add_group(
        "rg-orthense-pr-1",
        &[(nightshift_core::expiry::tags::MANAGED_BY, "nightshift")],
    );
    let v = vars(&[
        (
            "NIGHTSHIFT_SUBSCRIPTION_ID",
            "11111111-1111-1111-1111-111111111111",
        ),
        (
            "NIGHTSHIFT_ENVIRONMENTS_SUBSCRIPTION_ID",
            crate::fake_arm::SUBSCRIPTION,
        ),
        ("NIGHTSHIFT_ARM_ENDPOINT", fake.base.as_str()),
        ("NIGHTSHIFT_ARM_TOKEN", crate::ARM_TOKEN),
    ]);
    let config = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap();

    let groups = config
        .adapters()
        .cloud
        .list_managed("nightshift")
        .await
        .unwrap();

    assert_eq!(
        groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["rg-orthense-pr-1"]
    );
    let env: HashMap<String, String> = config.job_env().into_iter().collect();
    assert_eq!(
        env["NIGHTSHIFT_ENVIRONMENTS_SUBSCRIPTION_ID"],
        crate::fake_arm::SUBSCRIPTION,
        "a runner rebuilds the same configuration"
    );
}

#[test]
fn config_requires_only_the_settings_of_what_a_command_uses() {
    use nightshift_azure::Need;
    // A workstation running `nightshift sweep`: ARM and the store, nothing about jobs, Service Bus or Key Vault.
    let v: HashMap<String, String> = [
        ("NIGHTSHIFT_SUBSCRIPTION_ID", "sub-1"),
        ("NIGHTSHIFT_STORAGE_ACCOUNT", "nsstore"),
        ("NIGHTSHIFT_CREDENTIAL", "azure-cli"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();

    let everything = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap_err();
    let sweep = AzureConfig::from_lookup_for(|k| v.get(k).cloned(), &[Need::Store, Need::Arm]);
    let status = AzureConfig::from_lookup_for(|k| v.get(k).cloned(), &[Need::Store]);
    let release = AzureConfig::from_lookup_for(|k| v.get(k).cloned(), &[Need::Bus]).unwrap_err();

    assert!(
        matches!(everything, ConfigError::Missing(n) if n.starts_with("NIGHTSHIFT_")),
        "the handler still needs everything: {everything}"
    );
    let sweep = sweep.expect("a sweep needs only ARM and the store");
    assert_eq!(sweep.subscription_id, "sub-1");
    assert!(status.is_ok());
    assert_eq!(
        release,
        ConfigError::Missing("NIGHTSHIFT_SERVICEBUS_NAMESPACE")
    );
    let mut no_store = v.clone();
    no_store.remove("NIGHTSHIFT_STORAGE_ACCOUNT");
    assert_eq!(
        AzureConfig::from_lookup_for(|k| no_store.get(k).cloned(), &[Need::Store, Need::Arm])
            .unwrap_err(),
        ConfigError::Missing("NIGHTSHIFT_STORAGE_ACCOUNT")
    );
}

#[test]
fn a_service_bus_endpoint_must_be_a_url_and_reaches_the_runner() {
    let v = vars(&[("NIGHTSHIFT_SERVICEBUS_ENDPOINT", "not a url")]);
    let err = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap_err();
    assert!(
        matches!(err, ConfigError::Invalid { name, .. } if name == "NIGHTSHIFT_SERVICEBUS_ENDPOINT"),
        "{err}"
    );

    let v = vars(&[("NIGHTSHIFT_SERVICEBUS_ENDPOINT", "http://127.0.0.1:4242/")]);
    let config = AzureConfig::from_lookup(|k| v.get(k).cloned()).unwrap();
    assert_eq!(
        config.servicebus_endpoint.as_deref(),
        Some("http://127.0.0.1:4242")
    );
    let env: HashMap<String, String> = config.job_env().into_iter().collect();
    assert_eq!(
        env["NIGHTSHIFT_SERVICEBUS_ENDPOINT"],
        "http://127.0.0.1:4242"
    );
}
