//! The `Secrets` port on Key Vault's data plane: `GET {vault}/secrets/{name}?api-version=7.4` with a token for
//! `https://vault.azure.net`. Values come back wrapped in `SecretValue` and are never logged.

use crate::identity::{TokenProvider, VAULT_RESOURCE};
use async_trait::async_trait;
use nightshift_core::ports::{PortError, SecretValue, Secrets};
use serde::Deserialize;
use std::fmt;
use std::sync::Arc;

pub const KEY_VAULT_API: &str = "7.4";

pub struct KeyVaultSecrets {
    vault_url: String,
    tokens: Arc<dyn TokenProvider>,
    http: reqwest::Client,
}

impl fmt::Debug for KeyVaultSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVaultSecrets")
            .field("vault_url", &self.vault_url)
            .finish_non_exhaustive()
    }
}

impl KeyVaultSecrets {
    /// `vault_url` such as `https://contoso.vault.azure.net`. Performs no I/O.
    pub fn new(vault_url: impl Into<String>, tokens: Arc<dyn TokenProvider>) -> Self {
        Self {
            vault_url: vault_url.into().trim_end_matches('/').to_string(),
            tokens,
            http: crate::http::reqwest_client(),
        }
    }
}

#[derive(Deserialize)]
struct SecretBundle {
    value: String,
}

#[async_trait]
impl Secrets for KeyVaultSecrets {
    #[tracing::instrument(skip_all, fields(secret = name))]
    async fn get(&self, name: &str) -> Result<SecretValue, PortError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(PortError::Permanent(format!(
                "Key Vault secret names use letters, digits and '-' only: {name:?}"
            )));
        }
        let token = self.tokens.token(VAULT_RESOURCE).await?;
        let url = format!(
            "{}/secrets/{name}?api-version={KEY_VAULT_API}",
            self.vault_url
        );
        let response = self
            .http
            .get(&url)
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|e| PortError::Transient(crate::http::describe_reqwest(e)))?;
        let status = response.status();
        if !status.is_success() {
            // Error bodies never carry the value; they say why (forbidden, not found, throttled).
            let body = response.text().await.unwrap_or_default();
            let msg = format!(
                "Key Vault answered {status} for secret {name:?}: {}",
                crate::identity::truncate(&body, 300)
            );
            return Err(if status.as_u16() == 429 || status.is_server_error() {
                PortError::Transient(msg)
            } else {
                PortError::Permanent(msg)
            });
        }
        let bundle: SecretBundle = response.json().await.map_err(|_| {
            PortError::Permanent(format!("Key Vault answer for {name:?} does not parse"))
        })?;
        Ok(SecretValue::new(bundle.value))
    }
}
