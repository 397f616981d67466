//! The token seam of the adapters: [`TokenProvider`] gives a bearer token for a resource (audience). It is
//! implemented by [`crate::credential::Credential`] (the official `azure_identity` credentials: managed identity,
//! the Azure CLI's login, workload identity federation) and by [`StaticToken`] for development and tests. Tokens
//! are wrapped so that they cannot be printed.

use async_trait::async_trait;
use nightshift_core::ports::PortError;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The public ARM endpoint's token audience.
pub const ARM_RESOURCE: &str = "https://management.azure.com/";
/// Key Vault's token audience.
pub const VAULT_RESOURCE: &str = "https://vault.azure.net";
/// Blob Storage's token audience.
pub const STORAGE_RESOURCE: &str = "https://storage.azure.com/";

/// How long before its expiry a cached token is replaced.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A bearer token: `Debug` prints `***`; [`AccessToken::expose`] is for the `Authorization` header only.
#[derive(Clone)]
pub struct AccessToken {
    value: String,
    /// Seconds since the epoch; `None` for a static token.
    expires_on: Option<u64>,
}

impl AccessToken {
    pub fn new(value: impl Into<String>, expires_on: Option<u64>) -> Self {
        Self {
            value: value.into(),
            expires_on,
        }
    }
    pub fn expose(&self) -> &str {
        &self.value
    }
    pub fn expires_on(&self) -> Option<u64> {
        self.expires_on
    }
    pub(crate) fn fresh_at(&self, now: u64) -> bool {
        match self.expires_on {
            None => true,
            Some(exp) => now + REFRESH_MARGIN.as_secs() < exp,
        }
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"***")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// Gives a token for a resource (audience) such as [`ARM_RESOURCE`].
#[async_trait]
pub trait TokenProvider: Send + Sync {
    async fn token(&self, resource: &str) -> Result<AccessToken, PortError>;
}

/// One token for every resource: for tests and for pointing the ARM adapters at another server.
pub struct StaticToken(AccessToken);

impl StaticToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(AccessToken::new(token, None))
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(***)")
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self, _resource: &str) -> Result<AccessToken, PortError> {
        Ok(self.0.clone())
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_stale_five_minutes_before_it_expires() {
        let t = AccessToken::new("x", Some(10_000));
        assert!(t.fresh_at(10_000 - 301));
        assert!(!t.fresh_at(10_000 - 300));
        assert!(AccessToken::new("x", None).fresh_at(u64::MAX / 2));
    }

    #[test]
    fn tokens_do_not_print() {
        let t = AccessToken::new("eyJ-secret", Some(1));
        assert!(!format!("{t:?}").contains("eyJ"));
        assert!(!format!("{:?}", StaticToken::new("eyJ-secret")).contains("eyJ"));
    }
}
