//! The notification settings: which webhooks get which format, where links point, whether chat actions are on,
//! and the optional GitHub deployments notifier. Every value that is a credential is a Key Vault secret *name*.

use crate::settings::SettingsError;
use nightshift_core::notice::Format;
use nightshift_core::Ttl;

/// One chat webhook: its payload format and the Key Vault secret holding its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub format: Format,
    pub secret: String,
}

/// Signed action links (extend, keep) in the cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionsSettings {
    /// Key Vault secret holding the HMAC-SHA256 key the links are signed with.
    pub key_secret: String,
    /// Key Vault secret holding the `actions` function's key (the `code` query parameter Azure requires of a
    /// function-level HTTP trigger); unset locally.
    pub code_secret: Option<String>,
    /// The fixed step an `extend` button extends by (the release handler caps it at the environment's
    /// max_lifetime).
    pub extend_by: Ttl,
    /// How long a `keep` button keeps the environment.
    pub keep_for: Ttl,
    /// How long a link in a message stays valid.
    pub link_ttl: Ttl,
}

/// GitHub deployments for pull-request environments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubSettings {
    /// `owner/repo`.
    pub repository: String,
    /// Key Vault secret holding a token allowed to write deployments.
    pub token_secret: String,
    /// The REST API base URL (GitHub Enterprise and tests point it elsewhere).
    pub api_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NotifySettings {
    pub webhooks: Vec<Webhook>,
    /// The public base URL of the Function App (`https://<app>.azurewebsites.net`, or the local host's); links to
    /// run status and actions are built from it. Unset: cards have no such links.
    pub public_url: Option<String>,
    pub actions: Option<ActionsSettings>,
    pub github: Option<GithubSettings>,
}

impl NotifySettings {
    /// `get` returns a trimmed, non-empty value or `None`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let bad = |name: &'static str, value: &str, why: &str| SettingsError {
            name,
            value: value.to_string(),
            why: why.to_string(),
        };
        let mut webhooks = Vec::new();
        if let Some(list) = get("NIGHTSHIFT_NOTIFY_WEBHOOKS") {
            for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                let (format, secret) = item.split_once(':').ok_or_else(|| {
                    bad(
                        "NIGHTSHIFT_NOTIFY_WEBHOOKS",
                        item,
                        "each item is FORMAT:SECRET-NAME, e.g. teams:notify-teams-url",
                    )
                })?;
                let format = Format::parse(format).ok_or_else(|| {
                    bad(
                        "NIGHTSHIFT_NOTIFY_WEBHOOKS",
                        item,
                        "the format is slack, teams or generic",
                    )
                })?;
                let secret = secret.trim();
                if secret.is_empty() || webhooks.iter().any(|w: &Webhook| w.secret == secret) {
                    return Err(bad(
                        "NIGHTSHIFT_NOTIFY_WEBHOOKS",
                        item,
                        "name each webhook's secret once",
                    ));
                }
                webhooks.push(Webhook {
                    format,
                    secret: secret.to_string(),
                });
            }
        }
        if let Some(secret) = get("NIGHTSHIFT_NOTIFY_WEBHOOK_SECRET") {
            // The first setting, kept working: one webhook, generic JSON (its `text` is what Slack shows).
            if !webhooks.iter().any(|w| w.secret == secret) {
                webhooks.push(Webhook {
                    format: Format::Generic,
                    secret,
                });
            }
        }
        let ttl = |name: &'static str, default: &str| -> Result<Ttl, SettingsError> {
            let v = get(name).unwrap_or_else(|| default.to_string());
            Ttl::parse(&v).map_err(|e| bad(name, &v, &e.to_string()))
        };
        let public_url = match get("NIGHTSHIFT_PUBLIC_URL") {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                Some(u.trim_end_matches('/').to_string())
            }
            Some(u) => {
                return Err(bad(
                    "NIGHTSHIFT_PUBLIC_URL",
                    &u,
                    "an http(s) URL, e.g. https://func-nightshift.azurewebsites.net",
                ))
            }
            None => None,
        };
        let actions = match get("NIGHTSHIFT_ACTIONS_KEY_SECRET") {
            Some(key_secret) => {
                if public_url.is_none() {
                    return Err(bad(
                        "NIGHTSHIFT_ACTIONS_KEY_SECRET",
                        &key_secret,
                        "action links need NIGHTSHIFT_PUBLIC_URL too",
                    ));
                }
                Some(ActionsSettings {
                    key_secret,
                    code_secret: get("NIGHTSHIFT_ACTIONS_CODE_SECRET"),
                    extend_by: ttl("NIGHTSHIFT_ACTIONS_EXTEND_BY", "1d")?,
                    keep_for: ttl("NIGHTSHIFT_ACTIONS_KEEP_FOR", "7d")?,
                    link_ttl: ttl("NIGHTSHIFT_ACTIONS_LINK_TTL", "2d")?,
                })
            }
            None => None,
        };
        let github = match (
            get("NIGHTSHIFT_GITHUB_REPOSITORY"),
            get("NIGHTSHIFT_GITHUB_TOKEN_SECRET"),
        ) {
            (None, None) => None,
            (Some(repository), Some(token_secret)) => {
                let ok = repository.split('/').count() == 2
                    && repository.split('/').all(|p| !p.is_empty());
                if !ok {
                    return Err(bad(
                        "NIGHTSHIFT_GITHUB_REPOSITORY",
                        &repository,
                        "owner/repo",
                    ));
                }
                Some(GithubSettings {
                    repository,
                    token_secret,
                    api_url: get("NIGHTSHIFT_GITHUB_API_URL")
                        .unwrap_or_else(|| "https://api.github.com".into())
                        .trim_end_matches('/')
                        .to_string(),
                })
            }
            (Some(r), None) => {
                return Err(bad(
                    "NIGHTSHIFT_GITHUB_TOKEN_SECRET",
                    &r,
                    "required with NIGHTSHIFT_GITHUB_REPOSITORY",
                ))
            }
            (None, Some(t)) => {
                return Err(bad(
                    "NIGHTSHIFT_GITHUB_REPOSITORY",
                    &t,
                    "required with NIGHTSHIFT_GITHUB_TOKEN_SECRET",
                ))
            }
        };
        Ok(Self {
            webhooks,
            public_url,
            actions,
            github,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<NotifySettings, SettingsError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        NotifySettings::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn webhooks_are_listed_with_their_format_and_the_old_setting_counts_as_generic() {
        let s = parse(&[
            (
                "NIGHTSHIFT_NOTIFY_WEBHOOKS",
                "slack:notify-slack-url, teams:notify-teams-url",
            ),
            ("NIGHTSHIFT_NOTIFY_WEBHOOK_SECRET", "old-hook"),
        ])
        .unwrap();
        let got: Vec<(Format, &str)> = s
            .webhooks
            .iter()
            .map(|w| (w.format, w.secret.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Format::Slack, "notify-slack-url"),
                (Format::Teams, "notify-teams-url"),
                (Format::Generic, "old-hook")
            ]
        );
    }

    #[test]
    fn a_bad_webhook_item_names_the_setting_and_the_fix() {
        for bad in ["discord:x", "teams", "slack:a,teams:a"] {
            let e = parse(&[("NIGHTSHIFT_NOTIFY_WEBHOOKS", bad)]).unwrap_err();
            assert_eq!(e.name, "NIGHTSHIFT_NOTIFY_WEBHOOKS", "{bad}");
        }
    }

    #[test]
    fn actions_need_a_public_url_and_default_to_a_one_day_step() {
        let e = parse(&[("NIGHTSHIFT_ACTIONS_KEY_SECRET", "actions-key")]).unwrap_err();
        assert!(e.why.contains("NIGHTSHIFT_PUBLIC_URL"), "{e}");
        let s = parse(&[
            ("NIGHTSHIFT_ACTIONS_KEY_SECRET", "actions-key"),
            ("NIGHTSHIFT_PUBLIC_URL", "http://127.0.0.1:7071/"),
        ])
        .unwrap();
        assert_eq!(s.public_url.as_deref(), Some("http://127.0.0.1:7071"));
        assert_eq!(s.actions.unwrap().extend_by, Ttl::parse("1d").unwrap());
    }

    #[test]
    fn github_needs_both_the_repository_and_the_token_secret() {
        assert!(parse(&[("NIGHTSHIFT_GITHUB_REPOSITORY", "o/r")]).is_err());
        assert!(parse(&[
            ("NIGHTSHIFT_GITHUB_REPOSITORY", "o"),
            ("NIGHTSHIFT_GITHUB_TOKEN_SECRET", "gh")
        ])
        .is_err());
        let g = parse(&[
            ("NIGHTSHIFT_GITHUB_REPOSITORY", "o/r"),
            ("NIGHTSHIFT_GITHUB_TOKEN_SECRET", "gh"),
        ])
        .unwrap()
        .github
        .unwrap();
        assert_eq!(g.api_url, "https://api.github.com");
    }
}
