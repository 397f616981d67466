//! `nightshift environments`: the environments the journal knows, a page at a time in name order, from their
//! records (`environments/<p>/<e>.json`) and run indexes: kind, status, version, expiry and why (lifetime,
//! extended, kept), URLs, last run, recent runs, and the technical dossier of its last successful run (as `status`
//! links a run's). Records written before the lifecycle fields existed are read too: the version and URLs then come
//! from the last run document.

use crate::cli::{Global, PageArgs};
use crate::output;
use nightshift_app::usecases::dossier::dossier_key;
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
    /// The newest runs first, from the environment's run index (at most 20).
    pub recent_runs: Vec<RecentRun>,
}

/// A run as the environment's index keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecentRun {
    pub id: String,
    pub status: RunStatus,
    pub version: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub reason: Option<String>,
}

/// One page of `environments --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvironmentList {
    pub environments: Vec<EnvironmentView>,
    /// Give it back with `--cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
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
    limit: usize,
    cursor: Option<&str>,
) -> anyhow::Result<(EnvironmentList, Vec<String>)> {
    let mut views = Vec::new();
    let mut problems = Vec::new();
    let page = app.environment_page(limit, cursor).await?;
    for key in page.keys {
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
        // Only a record written before the lifecycle fields existed needs its last run's document.
        let legacy = rec.get("urls").is_none()
            || rec.get("version").is_none()
            || rec.get("last_success_run").is_none();
        let run = match last_run.as_deref().and_then(|r| RunId::parse(r).ok()) {
            Some(id) if legacy => app.repo.run(&id).await.ok().flatten(),
            _ => None,
        };
        let product = text(&rec, "product").unwrap_or_default();
        let environment = text(&rec, "environment").unwrap_or_default();
        let recent_runs = app
            .environment_runs(&product, &environment)
            .await?
            .into_iter()
            .map(|d| RecentRun {
                id: d.id.to_string(),
                status: d.status,
                version: d.trigger.version().to_string(),
                created_at: d.created_at.to_rfc3339(),
                finished_at: d.finished_at.map(|t| t.to_rfc3339()),
                reason: d.reason,
            })
            .collect();
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
        // Only this environment's dossier is looked for, not every dossier stored.
        let dossier = match &last_success_run {
            Some(r) => {
                let key = dossier_key(&product, &environment, r);
                app.repo
                    .store()
                    .list(&key)
                    .await?
                    .into_iter()
                    .find(|k| *k == key)
            }
            None => None,
        };
        views.push(EnvironmentView {
            product,
            environment,
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
            dossier,
            last_success_run,
            last_run,
            destroyed_reason: text(&rec, "destroyed_reason"),
            recent_runs,
        });
    }
    views.sort_by(|a, b| (&a.product, &a.environment).cmp(&(&b.product, &b.environment)));
    Ok((
        EnvironmentList {
            environments: views,
            next_cursor: page.next_cursor,
        },
        problems,
    ))
}

pub async fn run(g: &Global, a: PageArgs) -> anyhow::Result<i32> {
    // The environment records, their indexes and last runs are in the store: that is all the list asks for.
    let app = super::app(super::settings_for(g, &[Need::Store])?).await?;
    let (list, problems) = list(&app, a.limit.into(), a.cursor.as_deref()).await?;
    for p in &problems {
        errln!("warning: {p}");
    }
    if a.json {
        output::print_json(&list);
        return Ok(0);
    }
    let views = &list.environments;
    if views.is_empty() && a.cursor.is_none() {
        outln!("No environment yet: build one with `nightshift up` or `nightshift release PRODUCT ENV VERSION`.");
        return Ok(0);
    }
    for v in views {
        let expiry = match (&v.expires_at, &v.expiry_reason) {
            (None, _) => "never (persistent)".to_string(),
            (Some(t), Some(why)) => format!("{t} ({why})"),
            (Some(t), None) => t.clone(),
        };
        outln!(
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
            outln!(
                "    kept until {}: {why}",
                v.kept_until.as_deref().unwrap_or("-")
            );
        }
        if let Some(why) = &v.destroyed_reason {
            outln!("    destroyed: {why}");
        }
        for (name, url) in &v.urls {
            outln!("    {name}: {url}");
        }
        if let Some(key) = &v.dossier {
            outln!(
                "    dossier: {key} (nightshift dossier {} --environment {} writes it out)",
                v.product,
                v.environment
            );
        }
    }
    if let Some(c) = &list.next_cursor {
        outln!("More environments: nightshift environments --cursor {c}");
    }
    Ok(0)
}
