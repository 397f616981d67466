//! Signed action links: the buttons in a chat message that extend or keep an environment without a bot.
//!
//! A link carries a token `ACTION.PRODUCT.ENVIRONMENT.EXPIRES.TOKEN_ID.MAC`: the MAC is HMAC-SHA256, under a key
//! kept in Key Vault, over the action, the product, the environment, the link's expiry (Unix seconds) and a token
//! id. Names are slugs (no `.`), so the token needs no other encoding and stays readable in a URL. Verifying is
//! pure: a forged or altered token fails the MAC (compared in constant time), an expired one fails the clock.
//! That a token acts once is the application's part (it records used token ids with a conditional create).

use crate::names::{EnvironmentName, ProductName};
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// What a link may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    Extend,
    Keep,
}

impl LinkAction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Extend => "extend",
            Self::Keep => "keep",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "extend" => Some(Self::Extend),
            "keep" => Some(Self::Keep),
            _ => None,
        }
    }
}

/// What a link says, once its signature and expiry are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionClaims {
    pub action: LinkAction,
    pub product: ProductName,
    pub environment: EnvironmentName,
    /// The link's own expiry (whole seconds).
    pub expires_at: DateTime<Utc>,
    /// Unique per link: the application records it when the link is used, so each link acts once.
    pub token_id: String,
}

/// Why a link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("malformed link: {0}")]
    Malformed(String),
    #[error("the link's signature does not match: it was altered or not made by nightshift")]
    BadSignature,
    #[error("the link expired at {0}: ask for a new one, or use the CLI")]
    Expired(DateTime<Utc>),
}

impl LinkError {
    /// A short stable word for records and counts.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::BadSignature => "forged",
            Self::Expired(_) => "expired",
        }
    }
}

/// A token id derived from what the link is for: the same warning sent twice carries the same link, and a new
/// expiry gives a new one.
pub fn token_id(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn canonical(action: &str, product: &str, env: &str, expires: i64, token_id: &str) -> String {
    format!("nightshift.action/v1\n{action}\n{product}\n{env}\n{expires}\n{token_id}")
}

fn mac(key: &[u8], message: &str) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length");
    m.update(message.as_bytes());
    m
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The token of a link.
pub fn sign(key: &[u8], c: &ActionClaims) -> String {
    let expires = c.expires_at.timestamp();
    let m = mac(
        key,
        &canonical(
            c.action.as_str(),
            c.product.as_str(),
            c.environment.as_str(),
            expires,
            &c.token_id,
        ),
    );
    let sig: String = m
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "{}.{}.{}.{expires}.{}.{sig}",
        c.action.as_str(),
        c.product,
        c.environment,
        c.token_id
    )
}

/// Checks a token's form, signature and expiry.
pub fn verify(key: &[u8], token: &str, now: DateTime<Utc>) -> Result<ActionClaims, LinkError> {
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [action, product, env, expires, token_id, sig] = parts[..] else {
        return Err(LinkError::Malformed(
            "expected six parts separated by '.'".into(),
        ));
    };
    let action = LinkAction::parse(action)
        .ok_or_else(|| LinkError::Malformed(format!("unknown action {action:?}")))?;
    let product = ProductName::parse(product).map_err(|e| LinkError::Malformed(e.to_string()))?;
    let environment =
        EnvironmentName::parse(env).map_err(|e| LinkError::Malformed(e.to_string()))?;
    let expires: i64 = expires
        .parse()
        .map_err(|_| LinkError::Malformed("the expiry is not a number".into()))?;
    if token_id.len() < 16
        || token_id.len() > 64
        || !token_id.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(LinkError::Malformed(
            "the token id is not 16 to 64 hex digits".into(),
        ));
    }
    let sig =
        hex_decode(sig).ok_or_else(|| LinkError::Malformed("the signature is not hex".into()))?;
    // The signature is checked before anything else is believed, expiry included.
    mac(
        key,
        &canonical(
            action.as_str(),
            product.as_str(),
            environment.as_str(),
            expires,
            token_id,
        ),
    )
    .verify_slice(&sig)
    .map_err(|_| LinkError::BadSignature)?;
    let expires_at = Utc
        .timestamp_opt(expires, 0)
        .single()
        .ok_or_else(|| LinkError::Malformed("the expiry is out of range".into()))?;
    if now >= expires_at {
        return Err(LinkError::Expired(expires_at));
    }
    Ok(ActionClaims {
        action,
        product,
        environment,
        expires_at,
        token_id: token_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a key from key vault";

    fn claims() -> ActionClaims {
        ActionClaims {
            action: LinkAction::Extend,
            product: ProductName::parse("shop").unwrap(),
            environment: EnvironmentName::parse("pr-7").unwrap(),
            expires_at: Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap(),
            token_id: token_id("extend shop pr-7 1"),
        }
    }

    fn before() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).unwrap()
    }

    #[test]
    fn a_signed_link_verifies_to_its_claims_before_it_expires() {
        let t = sign(KEY, &claims());
        assert!(t.starts_with("extend.shop.pr-7."), "{t}");
        assert_eq!(verify(KEY, &t, before()), Ok(claims()));
    }

    #[test]
    fn a_link_signed_with_another_key_is_refused_as_forged() {
        let t = sign(b"someone else's key", &claims());
        assert_eq!(verify(KEY, &t, before()), Err(LinkError::BadSignature));
    }

    #[test]
    fn changing_any_signed_part_breaks_the_signature() {
        let t = sign(KEY, &claims());
        for (from, to) in [
            ("extend.", "keep."),
            (".pr-7.", ".pr-8."),
            (".shop.", ".shoq."),
            (".1796", ".1896"),
        ] {
            let altered = t.replacen(from, to, 1);
            assert_ne!(altered, t, "{from}");
            assert_eq!(
                verify(KEY, &altered, before()),
                Err(LinkError::BadSignature),
                "{from} -> {to}"
            );
        }
        let mut other_id = claims();
        other_id.token_id = token_id("another");
        let swapped = sign(KEY, &other_id).rsplit_once('.').unwrap().0.to_string()
            + "."
            + t.rsplit_once('.').unwrap().1;
        assert_eq!(
            verify(KEY, &swapped, before()),
            Err(LinkError::BadSignature)
        );
    }

    #[test]
    fn an_expired_link_is_refused_even_with_a_good_signature() {
        let t = sign(KEY, &claims());
        let e = verify(KEY, &t, claims().expires_at).unwrap_err();
        assert_eq!(e, LinkError::Expired(claims().expires_at));
        assert_eq!(e.code(), "expired");
    }

    #[test]
    fn a_malformed_token_says_what_is_wrong() {
        for bad in [
            "",
            "extend.shop",
            "delete.shop.pr-7.1.00112233445566778899.ab",
            "extend.shop.pr-7.x.00112233445566778899.ab",
            "extend.shop.pr-7.1.zz.ab",
            "extend.shop.pr-7.1.00112233445566778899.xyz",
        ] {
            assert!(
                matches!(verify(KEY, bad, before()), Err(LinkError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
