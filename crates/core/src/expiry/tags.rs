//! The tags nightshift puts on every resource group it creates.

use crate::catalog::EnvironmentKind;
use crate::names::{EnvironmentName, ProductName, RunId};
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::BTreeMap;

pub const MANAGED_BY: &str = "nightshift-managed-by";
pub const PRODUCT: &str = "nightshift-product";
pub const ENVIRONMENT: &str = "nightshift-environment";
pub const RUN: &str = "nightshift-run";
pub const KIND: &str = "nightshift-kind";
pub const EXPIRES_AT: &str = "nightshift-expires-at";

/// Every tag the sweep relies on, in the order the docs list them.
pub const ALL: [&str; 6] = [MANAGED_BY, PRODUCT, ENVIRONMENT, RUN, KIND, EXPIRES_AT];

pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn for_environment(
    instance: &str,
    product: &ProductName,
    environment: &EnvironmentName,
    run: &RunId,
    kind: EnvironmentKind,
    expires_at: Option<DateTime<Utc>>,
) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    t.insert(MANAGED_BY.to_string(), instance.to_string());
    t.insert(PRODUCT.to_string(), product.to_string());
    t.insert(ENVIRONMENT.to_string(), environment.to_string());
    t.insert(RUN.to_string(), run.to_string());
    t.insert(KIND.to_string(), kind.as_str().to_string());
    if let (Some(at), false) = (expires_at, kind == EnvironmentKind::Persistent) {
        t.insert(EXPIRES_AT.to_string(), format_time(at));
    }
    t
}

/// The tags nightshift relies on, found the way Azure finds them: tag names are case-insensitive there, so
/// `Nightshift-Kind` is `nightshift-kind`. Values are returned as written (the sweep compares them exactly).
///
/// Refused, with the reason, when one of them could be read two ways: it appears twice (names differing only in
/// case, as a local `tags.json` or a hand edit can hold), or a tag name is the same once spaces, byte-order marks
/// and invisible characters are removed and case is folded (`"\u{feff}nightshift-kind"`, `"nightshift-kind "`):
/// such a tag may be the one meant, so nothing can be decided from the others.
pub fn read_known(tags: &BTreeMap<String, String>) -> Result<BTreeMap<&'static str, &str>, String> {
    let mut found: BTreeMap<&'static str, Vec<(&str, &str)>> = BTreeMap::new();
    for (name, value) in tags {
        if let Some(known) = ALL.iter().find(|k| k.eq_ignore_ascii_case(name)) {
            found.entry(known).or_default().push((name, value));
        } else if let Some(known) = ALL.iter().find(|k| **k == folded(name)) {
            return Err(format!(
                "tag name {name:?} reads as {known} but is not spelt so"
            ));
        }
    }
    let mut out = BTreeMap::new();
    for (known, seen) in found {
        if let [(_, value)] = seen.as_slice() {
            out.insert(known, *value);
        } else {
            let all: Vec<String> = seen.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
            return Err(format!(
                "tag {known} is given {} times ({})",
                seen.len(),
                all.join(", ")
            ));
        }
    }
    Ok(out)
}

/// A tag name with case folded and every space, byte-order mark and invisible format character removed.
fn folded(name: &str) -> String {
    name.chars()
        .filter(|c| !(c.is_whitespace() || c.is_control() || is_invisible(*c)))
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{feff}' | '\u{200b}'..='\u{200f}' | '\u{2060}'..='\u{2064}' | '\u{00ad}')
}

/// Reads a `tags.json` (a JSON object of strings, as a local Terraform stack writes it). A leading byte-order
/// mark is skipped; a repeated key, a value that is not a string, or anything else than an object is an error with
/// the reason, so the group is kept and reported rather than read half.
pub fn parse_json(bytes: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value = crate::json::parse_strict(text)?;
    let serde_json::Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    map.into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            other => Err(format!("tag {k:?} has the value {other}, not a string")),
        })
        .collect()
}
