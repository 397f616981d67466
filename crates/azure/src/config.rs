//! Typed settings of the Azure adapters, read from `NIGHTSHIFT_*` environment variables (listed in the crate's
//! docs), and the one place that builds the adapters from them. Secrets are wrapped so `Debug` prints `***`.

use crate::aci::{AciJobs, AciSettings};
use crate::arm::{ArmClient, ArmCloud, PUBLIC_ARM_ENDPOINT};
use crate::blob::{BlobAuth, BlobStore};
use crate::credential::{Credential, CredentialKind};
use crate::http::{HttpTransport, ReqwestTransport};
use crate::identity::{StaticToken, TokenProvider};
use crate::keyvault::KeyVaultSecrets;
use crate::servicebus::ServiceBusBus;
use crate::Secret;
use std::sync::Arc;

/// Where tokens come from (`NIGHTSHIFT_CREDENTIAL`, or the static development token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `NIGHTSHIFT_ARM_TOKEN`: one bearer token for everything (development, contract tests).
    Static(Secret),
    /// An official `azure_identity` credential: managed identity, the Azure CLI, workload identity federation.
    Credential(CredentialKind),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureConfig {
    pub subscription_id: String,
    /// `NIGHTSHIFT_ENVIRONMENTS_SUBSCRIPTION_ID`: where the environments live (the sweep lists and deletes there);
    /// `None`: the same subscription as the jobs' container groups.
    pub environments_subscription_id: Option<String>,
    pub arm_endpoint: String,
    pub token_source: TokenSource,
    pub storage_account: String,
    pub storage_container: String,
    pub storage_endpoint: Option<String>,
    pub storage_key: Option<Secret>,
    pub servicebus_namespace: String,
    /// `NIGHTSHIFT_SERVICEBUS_ENDPOINT`: another server than `https://<namespace>.servicebus.windows.net` (tests).
    pub servicebus_endpoint: Option<String>,
    pub servicebus_send_policy: String,
    pub servicebus_key_secret: String,
    pub key_vault_url: String,
    pub aci: AciSettings,
    /// The token provider, built at first use and shared by every clone of this configuration.
    tokens: SharedTokens,
}

/// One credential, and so one token cache, for everything built from one configuration: the adapters, the Terraform
/// state store and `doctor`'s sign-in check ask the credential (`az`, the identity endpoint) once per resource.
/// Not part of the configuration's value: two configurations read alike are equal whatever they have fetched.
#[derive(Clone, Default)]
struct SharedTokens(Arc<std::sync::OnceLock<Arc<dyn TokenProvider>>>);

impl PartialEq for SharedTokens {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SharedTokens {}

impl std::fmt::Debug for SharedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "built"
        } else {
            "not built"
        })
    }
}

/// What a use of the configuration talks to: each command asks only for the settings of what it uses (a sweep needs
/// ARM and the store, not the container-instance identity). The handler and the runner need everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// Blob Storage: `NIGHTSHIFT_STORAGE_ACCOUNT`.
    Store,
    /// Azure Resource Manager (resource groups, deleted vaults): `NIGHTSHIFT_SUBSCRIPTION_ID`.
    Arm,
    /// Service Bus sends (the key is read from Key Vault): `NIGHTSHIFT_SERVICEBUS_NAMESPACE`, `NIGHTSHIFT_KEY_VAULT_URL`.
    Bus,
    /// Key Vault secrets: `NIGHTSHIFT_KEY_VAULT_URL`.
    Secrets,
    /// Container Instances jobs: `NIGHTSHIFT_SUBSCRIPTION_ID`, `NIGHTSHIFT_ACI_*`, `NIGHTSHIFT_RUNNER_IMAGE`,
    /// `NIGHTSHIFT_KEY_VAULT_URL`.
    Jobs,
}

impl Need {
    /// Everything: the Functions handler and the runner.
    pub const ALL: &'static [Need] =
        &[Need::Store, Need::Arm, Need::Bus, Need::Secrets, Need::Jobs];

    /// The settings this use requires.
    pub fn settings(self) -> &'static [&'static str] {
        match self {
            Need::Store => &["NIGHTSHIFT_STORAGE_ACCOUNT"],
            Need::Arm => &["NIGHTSHIFT_SUBSCRIPTION_ID"],
            Need::Bus => &[
                "NIGHTSHIFT_SERVICEBUS_NAMESPACE",
                "NIGHTSHIFT_KEY_VAULT_URL",
            ],
            Need::Secrets => &["NIGHTSHIFT_KEY_VAULT_URL"],
            Need::Jobs => &[
                "NIGHTSHIFT_SUBSCRIPTION_ID",
                "NIGHTSHIFT_KEY_VAULT_URL",
                "NIGHTSHIFT_ACI_RESOURCE_GROUP",
                "NIGHTSHIFT_ACI_LOCATION",
                "NIGHTSHIFT_RUNNER_IMAGE",
                "NIGHTSHIFT_ACI_IDENTITY_ID",
                "NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID",
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: see the nightshift-azure crate docs for what it holds")]
    Missing(&'static str),
    #[error("{name} is invalid: {why}")]
    Invalid { name: &'static str, why: String },
}

impl AzureConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads variables through `lookup` (tests pass a map), requiring every setting. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup_for(lookup, Need::ALL)
    }

    /// Reads variables through `lookup`, requiring only the settings of `needs` (a missing one is an error naming
    /// it). A setting that is not needed and not set stays empty: the caller does not use the adapters it feeds.
    pub fn from_lookup_for(
        lookup: impl Fn(&str) -> Option<String>,
        needs: &[Need],
    ) -> Result<Self, ConfigError> {
        let opt = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let required: Vec<&str> = needs.iter().flat_map(|n| n.settings()).copied().collect();
        let req = |k: &'static str| match opt(k) {
            Some(v) => Ok(v),
            None if required.contains(&k) => Err(ConfigError::Missing(k)),
            None => Ok(String::new()),
        };
        let url = |name: &'static str, v: String| -> Result<String, ConfigError> {
            reqwest::Url::parse(&v).map_err(|e| ConfigError::Invalid {
                name,
                why: format!("{e} (expected a URL such as https://…)"),
            })?;
            Ok(v.trim_end_matches('/').to_string())
        };

        // `AZURE_CLIENT_ID` is what the platform convention (and ACI's runner environment) calls the identity.
        let client_id = opt("NIGHTSHIFT_IDENTITY_CLIENT_ID").or_else(|| opt("AZURE_CLIENT_ID"));
        // Settings of the hand-written token code that azure_identity has no equivalent for: refused, not ignored.
        for (name, why) in [
            ("NIGHTSHIFT_AZURE_CLI", "is no longer read: the Azure CLI credential runs `az` from PATH"),
            ("NIGHTSHIFT_IMDS_ENDPOINT", "is no longer read: managed identity uses the platform's endpoint (IDENTITY_ENDPOINT, else IMDS)"),
        ] {
            if opt(name).is_some() {
                return Err(ConfigError::Invalid { name, why: format!("{why}; unset it") });
            }
        }
        let token_source = if let Some(t) = opt("NIGHTSHIFT_ARM_TOKEN") {
            TokenSource::Static(Secret::new(t))
        } else {
            TokenSource::Credential(match opt("NIGHTSHIFT_CREDENTIAL").as_deref() {
                None | Some("managed-identity") => {
                    if let (Some(endpoint), Some(_)) =
                        (opt("IDENTITY_ENDPOINT"), opt("IDENTITY_HEADER"))
                    {
                        url("IDENTITY_ENDPOINT", endpoint)?;
                    }
                    CredentialKind::ManagedIdentity { client_id }
                }
                Some("azure-cli") => CredentialKind::AzureCli,
                Some("workload-identity") => {
                    let need = |k: &'static str| opt(k).ok_or(ConfigError::Missing(k));
                    CredentialKind::WorkloadIdentity {
                        tenant_id: need("AZURE_TENANT_ID")?,
                        client_id: match client_id {
                            Some(c) => c,
                            None => need("AZURE_CLIENT_ID")?,
                        },
                        token_file: need("AZURE_FEDERATED_TOKEN_FILE")?.into(),
                    }
                }
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "NIGHTSHIFT_CREDENTIAL",
                        why: format!(
                        "{other:?}: use managed-identity (default), azure-cli or workload-identity"
                    ),
                    })
                }
            })
        };

        Ok(Self {
            subscription_id: req("NIGHTSHIFT_SUBSCRIPTION_ID")?,
            environments_subscription_id: opt("NIGHTSHIFT_ENVIRONMENTS_SUBSCRIPTION_ID"),
            arm_endpoint: url(
                "NIGHTSHIFT_ARM_ENDPOINT",
                opt("NIGHTSHIFT_ARM_ENDPOINT").unwrap_or_else(|| PUBLIC_ARM_ENDPOINT.into()),
            )?,
            token_source,
            storage_account: req("NIGHTSHIFT_STORAGE_ACCOUNT")?,
            storage_container: opt("NIGHTSHIFT_STORAGE_CONTAINER")
                .unwrap_or_else(|| "nightshift".into()),
            storage_endpoint: opt("NIGHTSHIFT_STORAGE_ENDPOINT")
                .map(|v| url("NIGHTSHIFT_STORAGE_ENDPOINT", v))
                .transpose()?,
            storage_key: opt("NIGHTSHIFT_STORAGE_KEY").map(Secret::new),
            servicebus_namespace: req("NIGHTSHIFT_SERVICEBUS_NAMESPACE")?,
            servicebus_endpoint: opt("NIGHTSHIFT_SERVICEBUS_ENDPOINT")
                .map(|v| url("NIGHTSHIFT_SERVICEBUS_ENDPOINT", v))
                .transpose()?,
            servicebus_send_policy: opt("NIGHTSHIFT_SERVICEBUS_SEND_POLICY")
                .unwrap_or_else(|| "nightshift-send".into()),
            servicebus_key_secret: opt("NIGHTSHIFT_SERVICEBUS_KEY_SECRET")
                .unwrap_or_else(|| "servicebus-send-key".into()),
            key_vault_url: match req("NIGHTSHIFT_KEY_VAULT_URL")? {
                v if v.is_empty() => v,
                v => url("NIGHTSHIFT_KEY_VAULT_URL", v)?,
            },
            aci: AciSettings {
                resource_group: req("NIGHTSHIFT_ACI_RESOURCE_GROUP")?,
                location: req("NIGHTSHIFT_ACI_LOCATION")?,
                runner_image: req("NIGHTSHIFT_RUNNER_IMAGE")?,
                identity_id: req("NIGHTSHIFT_ACI_IDENTITY_ID")?,
                identity_client_id: req("NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID")?,
                registry_server: opt("NIGHTSHIFT_ACI_REGISTRY_SERVER"),
                key_vault_url: None,
            },
            tokens: SharedTokens::default(),
        }
        .with_vault_for_runner())
    }

    fn with_vault_for_runner(mut self) -> Self {
        self.aci.key_vault_url = Some(self.key_vault_url.clone());
        self
    }

    /// The settings a step container needs to rebuild this configuration in its own process (`nightshift runner`
    /// in ACI). Only names and addresses: no token, key or connection string. The container gets tokens from IMDS
    /// as the jobs identity (`AZURE_CLIENT_ID`, set by [`AciJobs`]), so no token source is passed on.
    pub fn job_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(&str, String)> = vec![
            ("NIGHTSHIFT_SUBSCRIPTION_ID", self.subscription_id.clone()),
            ("NIGHTSHIFT_ARM_ENDPOINT", self.arm_endpoint.clone()),
            ("NIGHTSHIFT_STORAGE_ACCOUNT", self.storage_account.clone()),
            (
                "NIGHTSHIFT_STORAGE_CONTAINER",
                self.storage_container.clone(),
            ),
            (
                "NIGHTSHIFT_SERVICEBUS_NAMESPACE",
                self.servicebus_namespace.clone(),
            ),
            (
                "NIGHTSHIFT_SERVICEBUS_SEND_POLICY",
                self.servicebus_send_policy.clone(),
            ),
            (
                "NIGHTSHIFT_SERVICEBUS_KEY_SECRET",
                self.servicebus_key_secret.clone(),
            ),
            ("NIGHTSHIFT_KEY_VAULT_URL", self.key_vault_url.clone()),
            (
                "NIGHTSHIFT_ACI_RESOURCE_GROUP",
                self.aci.resource_group.clone(),
            ),
            ("NIGHTSHIFT_ACI_LOCATION", self.aci.location.clone()),
            ("NIGHTSHIFT_RUNNER_IMAGE", self.aci.runner_image.clone()),
            ("NIGHTSHIFT_ACI_IDENTITY_ID", self.aci.identity_id.clone()),
            (
                "NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID",
                self.aci.identity_client_id.clone(),
            ),
        ];
        if let Some(s) = &self.environments_subscription_id {
            env.push(("NIGHTSHIFT_ENVIRONMENTS_SUBSCRIPTION_ID", s.clone()));
        }
        if let Some(e) = &self.storage_endpoint {
            env.push(("NIGHTSHIFT_STORAGE_ENDPOINT", e.clone()));
        }
        if let Some(e) = &self.servicebus_endpoint {
            env.push(("NIGHTSHIFT_SERVICEBUS_ENDPOINT", e.clone()));
        }
        if let Some(r) = &self.aci.registry_server {
            env.push(("NIGHTSHIFT_ACI_REGISTRY_SERVER", r.clone()));
        }
        env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The token provider everything built from this configuration (and its clones) shares: one cache for all of
    /// them. Performs no I/O.
    pub fn token_provider(&self) -> Arc<dyn TokenProvider> {
        self.tokens
            .0
            .get_or_init(|| match &self.token_source {
                TokenSource::Static(t) => Arc::new(StaticToken::new(t.expose())),
                TokenSource::Credential(kind) => Arc::new(Credential::new(
                    kind.clone(),
                    Arc::new(ReqwestTransport::new()),
                )),
            })
            .clone()
    }

    /// A store on another container (and possibly another account) with the same credentials: the Terraform
    /// state container, which the sweep cleans after an environment is destroyed. No network I/O.
    pub fn container_store(&self, account: Option<&str>, container: &str) -> BlobStore {
        let auth = match &self.storage_key {
            Some(k) => BlobAuth::Key(k.clone()),
            None => BlobAuth::Token(self.token_provider()),
        };
        let (account, endpoint) = match account {
            Some(a) if a != self.storage_account => (a, None),
            _ => (
                self.storage_account.as_str(),
                self.storage_endpoint.as_deref(),
            ),
        };
        BlobStore::new(
            account,
            endpoint,
            container,
            auth,
            Arc::new(ReqwestTransport::new()),
        )
    }

    /// The subscription the environments' resource groups live in (and the sweep works in).
    pub fn environments_subscription(&self) -> &str {
        self.environments_subscription_id
            .as_deref()
            .unwrap_or(&self.subscription_id)
    }

    /// Builds every adapter; performs no network I/O.
    pub fn adapters(&self) -> AzureAdapters {
        let tokens = self.token_provider();
        let transport: Arc<dyn HttpTransport> = Arc::new(ReqwestTransport::new());
        let arm = ArmClient::new(&self.arm_endpoint, &self.subscription_id, tokens.clone());
        let secrets = Arc::new(KeyVaultSecrets::new(&self.key_vault_url, tokens.clone()));
        let auth = match &self.storage_key {
            Some(k) => BlobAuth::Key(k.clone()),
            None => BlobAuth::Token(tokens.clone()),
        };
        let mut bus = ServiceBusBus::new(
            &self.servicebus_namespace,
            &self.servicebus_send_policy,
            &self.servicebus_key_secret,
            secrets.clone(),
            transport.clone(),
        );
        if let Some(endpoint) = &self.servicebus_endpoint {
            bus = bus.with_endpoint(endpoint, transport.clone());
        }
        AzureAdapters {
            store: Arc::new(BlobStore::new(
                &self.storage_account,
                self.storage_endpoint.as_deref(),
                &self.storage_container,
                auth,
                transport.clone(),
            )),
            bus: Arc::new(bus),
            jobs: Arc::new(AciJobs::new(arm, self.aci.clone())),
            cloud: Arc::new(ArmCloud::new(ArmClient::new(
                &self.arm_endpoint,
                self.environments_subscription(),
                tokens.clone(),
            ))),
            secrets,
        }
    }
}

/// The adapters built from one [`AzureConfig`].
#[derive(Debug, Clone)]
pub struct AzureAdapters {
    pub store: Arc<BlobStore>,
    pub bus: Arc<ServiceBusBus>,
    pub jobs: Arc<AciJobs>,
    pub cloud: Arc<ArmCloud>,
    pub secrets: Arc<KeyVaultSecrets>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn everything_built_from_one_configuration_and_its_clones_shares_one_token_provider() {
        let v: HashMap<&str, &str> = [
            ("NIGHTSHIFT_SUBSCRIPTION_ID", "sub-1"),
            ("NIGHTSHIFT_CREDENTIAL", "azure-cli"),
            ("NIGHTSHIFT_STORAGE_ACCOUNT", "nsstore"),
        ]
        .into_iter()
        .collect();
        let config = AzureConfig::from_lookup_for(
            |k| v.get(k).map(|s| s.to_string()),
            &[Need::Store, Need::Arm],
        )
        .unwrap();
        let again = AzureConfig::from_lookup_for(
            |k| v.get(k).map(|s| s.to_string()),
            &[Need::Store, Need::Arm],
        )
        .unwrap();

        let first = config.token_provider();

        assert!(Arc::ptr_eq(&first, &config.token_provider()));
        assert!(Arc::ptr_eq(&first, &config.clone().token_provider()));
        assert_eq!(
            config, again,
            "what was fetched is not part of the configuration's value"
        );
        assert!(
            !Arc::ptr_eq(&first, &again.token_provider()),
            "another configuration has its own"
        );
    }

    #[test]
    fn the_job_env_rebuilds_the_same_configuration_without_any_secret() {
        let v: HashMap<&str, &str> = [
            ("NIGHTSHIFT_SUBSCRIPTION_ID", "sub-1"),
            ("NIGHTSHIFT_ARM_TOKEN", "arm-token-secret-value"),
            ("NIGHTSHIFT_STORAGE_ACCOUNT", "nsstore"),
            ("NIGHTSHIFT_STORAGE_KEY", "storage-key-secret-value"),
            ("NIGHTSHIFT_SERVICEBUS_NAMESPACE", "contoso-ns"),
            (
                "NIGHTSHIFT_KEY_VAULT_URL",
                "https://contoso.vault.azure.net",
            ),
            ("NIGHTSHIFT_ACI_RESOURCE_GROUP", "jobs"),
            ("NIGHTSHIFT_ACI_LOCATION", "westeurope"),
            ("NIGHTSHIFT_RUNNER_IMAGE", "contoso.azurecr.io/runner:1"),
            ("NIGHTSHIFT_ACI_IDENTITY_ID", "/subscriptions/s/id/runner"),
            ("NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID", "runner-cid"),
            ("NIGHTSHIFT_ACI_REGISTRY_SERVER", "contoso.azurecr.io"),
        ]
        .into();
        let config = AzureConfig::from_lookup(|k| v.get(k).map(|s| s.to_string())).unwrap();

        let env: HashMap<String, String> = config.job_env().into_iter().collect();
        let text = format!("{env:?}");
        assert!(
            !text.contains("secret-value") && !text.contains("TOKEN") && !text.contains("KEY\""),
            "{text}"
        );

        // Inside the container: the same targets, tokens from the managed identity (IMDS) as the jobs identity.
        let mut inside = env.clone();
        inside.insert("AZURE_CLIENT_ID".into(), "runner-cid".into());
        let rebuilt = AzureConfig::from_lookup(|k| inside.get(k).cloned()).unwrap();
        assert_eq!(rebuilt.subscription_id, config.subscription_id);
        assert_eq!(rebuilt.aci, config.aci);
        assert_eq!(rebuilt.storage_key, None);
        assert!(matches!(
            rebuilt.token_source,
            TokenSource::Credential(CredentialKind::ManagedIdentity { client_id: Some(ref c) }) if c == "runner-cid"
        ));
    }
}
