//! Actions from a chat message (`actions`, HTTP GET and POST `api/actions?token=...`): the signed link buttons of
//! an expiry warning extend or keep the environment with the same `releases` message the CLI sends.
//!
//! A GET only shows a confirmation page, because link scanners and chat previews fetch every URL; the page's form
//! POSTs the same token, and only the POST acts. Each token acts once: its id is recorded at
//! `action-tokens/<token id>.json` with a conditional create, after the message is sent (its MessageId is derived
//! from the token id, so a repeat is dropped as a duplicate by the queue and by the release handler's action
//! journal). A forged, altered, expired or replayed link is refused and recorded as a rejected message on the
//! `actions` pseudo-queue (visible in `status`), without the token's signature.

use crate::service::{App, AppError, Outputs};
use chrono::{DateTime, Utc};
use nightshift_core::action_link::{self, ActionClaims, LinkAction, LinkError};
use nightshift_core::messages::{Rejection, RELEASES_QUEUE, RELEASE_SCHEMA};
use nightshift_core::notice::Link;
use nightshift_core::ports::{OutboundMessage, PortError, Precondition};
use serde::{Deserialize, Serialize};

/// The pseudo-queue refused links are recorded under.
pub const ACTIONS_QUEUE: &str = "actions";
/// Who the release message says asked.
pub const REQUESTED_BY: &str = "chat action link";

/// What the `actions` function answers: a status and a small HTML page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPage {
    pub status: u16,
    pub html: String,
}

/// A used token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UsedToken {
    token_id: String,
    action: String,
    product: String,
    environment: String,
    used_at: DateTime<Utc>,
    message_id: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(status: u16, title: &str, body: &str) -> ActionPage {
    ActionPage {
        status,
        html: format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\"><title>{t}</title></head>\
             <body style=\"font-family:sans-serif;max-width:40em;margin:2em auto\"><h1>{t}</h1>{body}</body></html>",
            t = escape(title)
        ),
    }
}

fn token_key(token_id: &str) -> String {
    format!("action-tokens/{token_id}.json")
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl App {
    fn what(&self, c: &ActionClaims) -> String {
        let a = self.settings.notify.actions.as_ref();
        match c.action {
            LinkAction::Extend => format!(
                "extend {}/{} by {}",
                c.product,
                c.environment,
                a.map(|a| a.extend_by.to_string()).unwrap_or_default()
            ),
            LinkAction::Keep => format!(
                "keep {}/{} for {}",
                c.product,
                c.environment,
                a.map(|a| a.keep_for.to_string()).unwrap_or_default()
            ),
        }
    }

    async fn actions_key(&self) -> Result<Option<Vec<u8>>, AppError> {
        let Some(a) = &self.settings.notify.actions else {
            return Ok(None);
        };
        let key = self.ports.secrets.get(&a.key_secret).await?;
        Ok(Some(key.expose().as_bytes().to_vec()))
    }

    /// The signed links an expiry warning carries (none when actions are off). The token id is derived from the
    /// action, the environment and its expiry: the same warning carries the same links, a new expiry new ones.
    pub(crate) async fn action_links(
        &self,
        product: &str,
        environment: &str,
        env_expires_at: DateTime<Utc>,
    ) -> Result<Vec<Link>, AppError> {
        let (Some(a), Some(base)) = (
            &self.settings.notify.actions,
            &self.settings.notify.public_url,
        ) else {
            return Ok(Vec::new());
        };
        let Some(key) = self.actions_key().await? else {
            return Ok(Vec::new());
        };
        let code = match &a.code_secret {
            Some(name) => format!(
                "&code={}",
                percent_encode(self.ports.secrets.get(name).await?.expose())
            ),
            None => String::new(),
        };
        let (Ok(p), Ok(e)) = (
            nightshift_core::ProductName::parse(product),
            nightshift_core::EnvironmentName::parse(environment),
        ) else {
            return Ok(Vec::new());
        };
        let expires_at = self.now() + a.link_ttl.as_chrono();
        let mut links = Vec::new();
        for (action, label) in [
            (LinkAction::Extend, format!("Extend by {}", a.extend_by)),
            (LinkAction::Keep, format!("Keep for {}", a.keep_for)),
        ] {
            let claims = ActionClaims {
                action,
                product: p.clone(),
                environment: e.clone(),
                expires_at: DateTime::from_timestamp(expires_at.timestamp(), 0)
                    .unwrap_or(expires_at),
                token_id: action_link::token_id(&format!(
                    "{} {product} {environment} {}",
                    action.as_str(),
                    env_expires_at.timestamp()
                )),
            };
            let token = action_link::sign(&key, &claims);
            links.push(Link {
                label,
                url: format!("{base}/api/actions?token={token}{code}"),
            });
        }
        Ok(links)
    }

    /// Verifies a token, recording a refusal.
    async fn check_token(&self, token: &str) -> Result<Result<ActionClaims, ActionPage>, AppError> {
        let Some(key) = self.actions_key().await? else {
            return Ok(Err(page(404, "Actions are off", "<p>This nightshift has no action links (NIGHTSHIFT_ACTIONS_KEY_SECRET is unset).</p>")));
        };
        match action_link::verify(&key, token, self.now()) {
            Ok(c) => Ok(Ok(c)),
            Err(e) => {
                self.refuse(token, e.code(), &e.to_string()).await?;
                let status = if matches!(e, LinkError::Expired(_)) {
                    410
                } else {
                    403
                };
                Ok(Err(page(
                    status,
                    "Link refused",
                    &format!("<p>{}</p>", escape(&e.to_string())),
                )))
            }
        }
    }

    async fn refuse(&self, token: &str, code: &str, why: &str) -> Result<(), AppError> {
        // The record keeps what the link claimed, never its signature.
        let claimed = token.rsplit_once('.').map(|(c, _)| c).unwrap_or("");
        let id = claimed
            .rsplit('.')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("no-token-id");
        let mut out = Outputs::default();
        self.reject(
            ACTIONS_QUEUE,
            &format!("{code}-{}", notice_safe(id)),
            &notice_safe(claimed),
            &Rejection {
                reason: format!("action link refused ({code}): {why}"),
            },
            &mut out,
        )
        .await
    }

    /// GET: shows what the link would do, changes nothing.
    pub async fn action_confirm(&self, token: &str) -> Result<ActionPage, AppError> {
        let claims = match self.check_token(token).await? {
            Ok(c) => c,
            Err(p) => return Ok(p),
        };
        if self
            .repo
            .store()
            .get(&token_key(&claims.token_id))
            .await?
            .is_some()
        {
            return Ok(page(
                409,
                "Link already used",
                "<p>This link has acted already; each link acts once.</p>",
            ));
        }
        let what = escape(&self.what(&claims));
        Ok(page(
            200,
            "Confirm",
            &format!(
                "<p>This will <b>{what}</b>.</p><form method=\"post\"><button type=\"submit\">Yes, {what}</button></form>\
                 <p><small>The link expires at {}.</small></p>",
                claims.expires_at.to_rfc3339()
            ),
        ))
    }

    /// POST: acts once, by sending the `releases` message the CLI would send.
    pub async fn action_apply(&self, token: &str) -> Result<ActionPage, AppError> {
        let claims = match self.check_token(token).await? {
            Ok(c) => c,
            Err(p) => return Ok(p),
        };
        let key = token_key(&claims.token_id);
        let replayed = page(
            409,
            "Link already used",
            "<p>This link has acted already; each link acts once.</p>",
        );
        if self.repo.store().get(&key).await?.is_some() {
            self.refuse(token, "replayed", "the link was used already")
                .await?;
            return Ok(replayed);
        }
        let a = self
            .settings
            .notify
            .actions
            .as_ref()
            .expect("checked by check_token");
        let message_id = format!("action-{}", claims.token_id);
        let mut body = serde_json::json!({
            "schema": RELEASE_SCHEMA, "action": claims.action.as_str(),
            "product": claims.product, "environment": claims.environment, "requested_by": REQUESTED_BY,
        });
        match claims.action {
            LinkAction::Extend => body["by"] = a.extend_by.to_string().into(),
            LinkAction::Keep => {
                body["for"] = a.keep_for.to_string().into();
                body["reason"] = "kept from the chat message's button".into();
            }
        }
        self.ports
            .bus
            .send(OutboundMessage {
                queue: RELEASES_QUEUE.into(),
                body: body.to_string(),
                message_id: message_id.clone(),
                correlation_id: None,
                scheduled_at: None,
            })
            .await?;
        let used = UsedToken {
            token_id: claims.token_id.clone(),
            action: claims.action.as_str().into(),
            product: claims.product.to_string(),
            environment: claims.environment.to_string(),
            used_at: self.now(),
            message_id: message_id.clone(),
        };
        match self.repo.put_json(&key, &used, Precondition::Absent).await {
            Ok(_) => {}
            // A concurrent POST of the same link: the message id makes the two sends one action.
            Err(PortError::Conflict(_)) => return Ok(replayed),
            Err(e) => return Err(e.into()),
        }
        let what = escape(&self.what(&claims));
        Ok(page(
            202,
            "Done",
            &format!("<p>Asked nightshift to <b>{what}</b> (message <code>{}</code>). Follow it with <code>nightshift status</code>.</p>", escape(&message_id)),
        ))
    }
}

/// Keeps a record field to printable ASCII of bounded length (it came from a URL anyone can send).
fn notice_safe(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(200)
        .collect()
}
