//! nightshift's Azure adapters: the core's ports implemented on Azure services.
//!
//! | port | adapter | service |
//! | --- | --- | --- |
//! | `Store` | [`BlobStore`] | Blob Storage (ETag-conditional writes, `If-None-Match: *` creates) |
//! | `Bus` | [`ServiceBusBus`] | Service Bus REST send (SAS of a Send-only policy, key from Key Vault) |
//! | `Jobs` | [`AciJobs`] | Azure Container Instances over ARM (one container group per step attempt) |
//! | `Cloud` | [`ArmCloud`] | Azure Resource Manager resource groups (tag-filtered listing, LRO deletes) |
//! | `Secrets` | [`KeyVaultSecrets`] | Key Vault secrets (data plane, api-version 7.4) |
//! | `Notifier` | [`WebhookNotifier`], [`LogNotifier`] | a Slack/Teams incoming webhook (URL from Key Vault), or a log event |
//!
//! Tokens come from [`credential`]: the official `azure_identity` credentials (managed identity on the Function App
//! and inside ACI, the Azure CLI's login on a workstation, workload identity federation in CI), or from a static
//! token for development ([`identity::StaticToken`]). Every adapter connects lazily: constructing one performs no network I/O, and no secret
//! (key, token, connection string) appears in its `Debug` output or in a log line written by this crate.
//!
//! The Azure SDK crates (`azure_core` 0.21 with `azure_storage_blobs` and `azure_messaging_servicebus`; `azure_core`
//! 1.x with `azure_identity`) are used inside this crate only; none of their types appears in its public API. HTTP for the SDK goes through [`HttpTransport`], so
//! tests can capture requests and production can add bearer tokens after the SDK has logged the request.
//!
//! # Environment variables ([`AzureConfig::from_env`])
//!
//! | variable | required | meaning |
//! | --- | --- | --- |
//! | `NIGHTSHIFT_SUBSCRIPTION_ID` | yes | the subscription of the jobs' container groups, and of the environments unless set below |
//! | `NIGHTSHIFT_ENVIRONMENTS_SUBSCRIPTION_ID` | no | the subscription of the environments' resource groups (sweep); default `NIGHTSHIFT_SUBSCRIPTION_ID` |
//! | `NIGHTSHIFT_ARM_ENDPOINT` | no | ARM base URL; default `https://management.azure.com` (tests point it at a loopback server) |
//! | `NIGHTSHIFT_CREDENTIAL` | no | `managed-identity` (default), `azure-cli` (the Azure CLI's login, `az` on `PATH`: a workstation after `az login`) or `workload-identity` (CI with workload identity federation: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE`) |
//! | `NIGHTSHIFT_ARM_TOKEN` | no | a static bearer token used for every resource instead of managed identity (development and tests only) |
//! | `IDENTITY_ENDPOINT`, `IDENTITY_HEADER` | set by the platform | the Functions/App Service managed identity endpoint; without them IMDS is used |
//! | `NIGHTSHIFT_IDENTITY_CLIENT_ID` | no | client id of the user-assigned identity to get tokens for; default `AZURE_CLIENT_ID`, else the system-assigned identity |
//! | `NIGHTSHIFT_STORAGE_ACCOUNT` | yes | storage account of the run journals, logs and outputs |
//! | `NIGHTSHIFT_STORAGE_CONTAINER` | no | blob container; default `nightshift` |
//! | `NIGHTSHIFT_STORAGE_ENDPOINT` | no | blob service URL including the account (Azurite: `http://127.0.0.1:10000/devstoreaccount1`); default `https://<account>.blob.core.windows.net` |
//! | `NIGHTSHIFT_STORAGE_KEY` | no | account key (Azurite, development); when unset the managed identity's token is used |
//! | `NIGHTSHIFT_SERVICEBUS_NAMESPACE` | yes | namespace name (`contoso-ns` or `contoso-ns.servicebus.windows.net`) |
//! | `NIGHTSHIFT_SERVICEBUS_ENDPOINT` | no | another server than `https://<namespace>.servicebus.windows.net` (tests point it at a loopback server) |
//! | `NIGHTSHIFT_SERVICEBUS_SEND_POLICY` | no | name of the Send-only shared access policy; default `nightshift-send` |
//! | `NIGHTSHIFT_SERVICEBUS_KEY_SECRET` | no | Key Vault secret holding that policy's key; default `servicebus-send-key` |
//! | `NIGHTSHIFT_KEY_VAULT_URL` | yes | `https://<vault>.vault.azure.net` |
//! | `NIGHTSHIFT_ACI_RESOURCE_GROUP` | yes | resource group the step containers run in |
//! | `NIGHTSHIFT_ACI_LOCATION` | yes | Azure region of the container groups (`westeurope`) |
//! | `NIGHTSHIFT_RUNNER_IMAGE` | yes | the runner image (`myregistry.azurecr.io/nightshift-runner:1.4.2`) |
//! | `NIGHTSHIFT_ACI_IDENTITY_ID` | yes | resource id of the user-assigned identity the runner containers get |
//! | `NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID` | yes | its client id (passed to the runner as `AZURE_CLIENT_ID`) |
//! | `NIGHTSHIFT_ACI_REGISTRY_SERVER` | no | registry the image is pulled from with that identity (`myregistry.azurecr.io`) |
//!
//! # Logging
//! `azure_core` 0.21 logs every pipeline request at `debug` with its headers (its redaction is inverted: it
//! prints `Authorization`). For Blob Storage with managed identity this crate adds the bearer token in its own
//! transport, after that log line, so no token reaches it; with an account key the logged header is a per-request
//! signature. Keep `azure_core=info` in production filters anyway. `azure_core` 1.x (the credentials' token
//! requests) logs URLs and headers through an allow-list, so the identity header and the tokens are redacted;
//! crates/cli/tests/azure_workstation runs commands at `trace` and checks that no token, header or key appears.

pub mod aci;
pub mod arm;
pub mod blob;
pub mod config;
pub mod credential;
pub mod github;
mod http;
pub mod identity;
pub mod keyvault;
pub mod notify;
pub mod servicebus;

pub use aci::{AciJobs, AciSettings};
pub use arm::{ArmClient, ArmCloud, RetryPolicy};
pub use blob::{BlobAuth, BlobStore};
pub use config::{AzureAdapters, AzureConfig, ConfigError, Need, TokenSource};
pub use credential::{Credential, CredentialKind};
pub use github::GithubNotifier;
pub use http::{HttpRequest, HttpResponse, HttpTransport, ReqwestTransport, TransportError};
pub use identity::{AccessToken, StaticToken, TokenProvider};
pub use keyvault::KeyVaultSecrets;
pub use notify::{LogNotifier, WebhookNotifier};
pub use servicebus::ServiceBusBus;

/// A secret string from configuration: printed as `***`, exposed only where it is used.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}
