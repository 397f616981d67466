//! Tokens from the Azure CLI's login: `az account get-access-token --resource R --output json`.
//!
//! For a person at a workstation (`az login`) and for a pipeline logged in with Entra workload identity federation
//! (GitHub's `azure/login` with OIDC, Azure Pipelines' `AzureCLI@2`): no key is stored anywhere, the CLI holds the
//! login. Tokens are cached per resource until five minutes before they expire, like the managed identity's.

use crate::identity::{AccessToken, TokenProvider};
use async_trait::async_trait;
use nightshift_core::ports::PortError;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use tokio::sync::Mutex;

/// The Azure CLI as a token provider. `program` is `az` (found on `PATH`) unless `NIGHTSHIFT_AZURE_CLI` names
/// another executable with the same interface.
pub struct AzureCli {
    program: String,
    cache: Mutex<HashMap<String, AccessToken>>,
}

impl AzureCli {
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn fetch(&self, resource: &str) -> Result<AccessToken, PortError> {
        let output = tokio::process::Command::new(&self.program)
            .args(["account", "get-access-token", "--resource", resource, "--output", "json"])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| {
                PortError::Permanent(format!(
                    "cannot run the Azure CLI ({}): {e}; install it and run `az login`, or set NIGHTSHIFT_CREDENTIAL",
                    self.program
                ))
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(PortError::Permanent(format!(
                "the Azure CLI gave no token for {resource} ({}): {}; run `az login` (or `az login --identity`)",
                output.status,
                crate::identity::truncate(stderr.trim(), 300)
            )));
        }
        let parsed: CliToken = serde_json::from_slice(&output.stdout).map_err(|e| {
            PortError::Permanent(format!("the Azure CLI's token answer does not parse: {e}"))
        })?;
        // `expires_on` (epoch seconds) exists since Azure CLI 2.54; older ones give only a local time: keep briefly.
        let expires_on = parsed
            .expires_on
            .unwrap_or_else(|| crate::identity::now_secs() + 6 * 60);
        Ok(AccessToken::new(parsed.access_token, Some(expires_on)))
    }
}

impl fmt::Debug for AzureCli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureCli")
            .field("program", &self.program)
            .finish()
    }
}

#[derive(Deserialize)]
struct CliToken {
    #[serde(rename = "accessToken")]
    access_token: String,
    #[serde(default)]
    expires_on: Option<u64>,
}

#[async_trait]
impl TokenProvider for AzureCli {
    #[tracing::instrument(skip_all, fields(resource))]
    async fn token(&self, resource: &str) -> Result<AccessToken, PortError> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.get(resource) {
            if t.fresh_at(crate::identity::now_secs()) {
                return Ok(t.clone());
            }
        }
        let token = self.fetch(resource).await?;
        cache.insert(resource.to_string(), token.clone());
        Ok(token)
    }
}
