//! `nightshift environments`: every environment the journal knows, from its record (`environments/<p>/<e>.json`):
//! kind, status, version, expiry and why (lifetime, extended, kept), URLs, last run, and the technical dossier of
//! its last successful run (as `status` links a run's). Records written before the
//! lifecycle fields existed are read too: the version and URLs then come from the last run document.

use crate::cli::{Global, JsonArgs};
use crate::output;
use nightshift_app::Need;
use nightshift_core::run::RunStatus;
use nightshift_core::RunId;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvironmentView {
    pub product: String,
    pub environment: String,
    pub kind: String,
    pub status: String,
    pub version: Option<String>,
    pub expires_at: Option<String>,
    /// lifetime | extended | kept; null for persistent environments.
    pub expiry_reason: Option<String>,
    pub kept_until: Option<String>,
    pub keep_reason: Option<String>,
    pub urls: BTreeMap<String, String>,
    pub last_run: Option<String>,
    pub last_success_run: Option<String>,
    pub destroyed_reason: Option<String>,
    /// Store key of the dossier of `last_success_run`, once generated (docs/dossier.md).
    pub dossier: Option<String>,
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// URLs among a run's outputs: a step's `url`, and each entry of a step's `urls` object.
pub fn urls_of(outputs: &BTreeMap<String, BTreeMap<String, Value>>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (step, o) in outputs {
        if let Some(u) = o.get("url").and_then(Value::as_str) {
            out.insert(step.clone(), u.to_string());
        }
        if let Some(m) = o.get("urls").and_then(Value::as_object) {
            for (k, v) in m {
                if let Some(u) = v.as_str() {
                    out.insert(k.clone(), u.to_string());
                }
            }
        }
    }
    out
}

pub async fn list(
    app: &nightshift_app::App,
) -> anyhow::Result<(Vec<EnvironmentView>, Vec<String>)> {
    let mut views = Vec::new();
    let mut problems = Vec::new();
    let dossiers = app.dossier_keys().await?;
    for key in app.repo.store().list("environments/").await? {
        let Some(stored) = app.repo.store().get(&key).await? else {
            continue;
        };
        let rec: Value = match serde_json::from_slice(&stored.bytes) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                problems.push(format!("{key}: not a JSON object: skipped"));
                continue;
            }
            Err(e) => {
                problems.push(format!("{key}: unreadable ({e}): skipped"));
                continue;
            }
        };
        let last_run = text(&rec, "last_run");
        let run = match last_run.as_deref().and_then(|r| RunId::parse(r).ok()) {
            Some(id) => app.repo.run(&id).await.ok().flatten(),
            None => None,
        };
        let kind = text(&rec, "kind").unwrap_or_else(|| "?".into());
        let expires_at = text(&rec, "expires_at");
        let urls: BTreeMap<String, String> = match rec.get("urls").and_then(Value::as_object) {
            Some(m) => m
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|u| (k.clone(), u.to_string())))
                .collect(),
            None => run
                .as_ref()
                .filter(|r| r.status == RunStatus::Succeeded)
                .map(|r| urls_of(&r.outputs()))
                .unwrap_or_default(),
        };
        let last_success_run = text(&rec, "last_success_run").or_else(|| {
            run.as_ref()
                .filter(|r| r.status == RunStatus::Succeeded)
                .map(|r| r.id.to_string())
        });
        views.push(EnvironmentView {
            product: text(&rec, "product").unwrap_or_default(),
            environment: text(&rec, "environment").unwrap_or_default(),
            status: text(&rec, "status").unwrap_or_else(|| "?".into()),
            version: text(&rec, "version")
                .or_else(|| run.as_ref().map(|r| r.trigger.version().to_string())),
            expiry_reason: text(&rec, "expiry_reason").or_else(|| {
                (kind != "persistent" && expires_at.is_some()).then(|| "lifetime".to_string())
            }),
            expires_at,
            kind,
            kept_until: text(&rec, "kept_until"),
            keep_reason: text(&rec, "keep_reason"),
            urls,
            dossier: last_success_run
                .as_ref()
                .and_then(|r| dossiers.get(r).cloned()),
            last_success_run,
            last_run,
            destroyed_reason: text(&rec, "destroyed_reason"),
        });
    }
    views.sort_by(|a, b| (&a.product, &a.environment).cmp(&(&b.product, &b.environment)));
    Ok((views, problems))
}

pub async fn run(g: &Global, a: JsonArgs) -> anyhow::Result<i32> {
    // The environment records and their last runs are in the store: that is all the list asks for.
    let app = super::app(super::settings_for(g, &[Need::Store])?).await?;
    let (views, problems) = list(&app).await?;
    for p in &problems {
        eprintln!("warning: {p}");
    }
    if a.json {
        output::print_json(&views);
        return Ok(0);
    }
    if views.is_empty() {
        println!("No environment yet: build one with `nightshift up` or `nightshift release PRODUCT ENV VERSION`.");
        return Ok(0);
    }
    for v in &views {
        let expiry = match (&v.expires_at, &v.expiry_reason) {
            (None, _) => "never (persistent)".to_string(),
            (Some(t), Some(why)) => format!("{t} ({why})"),
            (Some(t), None) => t.clone(),
        };
        println!(
            "{}/{}  {}  {}  version {}  expires {}  last run {}",
            v.product,
            v.environment,
            v.kind,
            v.status,
            v.version.as_deref().unwrap_or("-"),
            expiry,
            v.last_run.as_deref().unwrap_or("-")
        );
        if let Some(why) = &v.keep_reason {
            println!(
                "    kept until {}: {why}",
                v.kept_until.as_deref().unwrap_or("-")
            );
        }
        if let Some(why) = &v.destroyed_reason {
            println!("    destroyed: {why}");
        }
        for (name, url) in &v.urls {
            println!("    {name}: {url}");
        }
        if let Some(key) = &v.dossier {
            println!(
                "    dossier: {key} (nightshift dossier {} --environment {} writes it out)",
                v.product, v.environment
            );
        }
    }
    Ok(0)
}
