//! The dependency inventory: versions and SKUs the stacks pin (only values found literally in a file of the step's
//! modules or the catalog), Terraform and provider constraints, the runner image's tools; secrets by name and the
//! data tiers each seed loads.

use super::scope::Scope;
use super::trace::flatten;
use super::{hcl_to_string, kinds, Input, Stacks};
use nightshift_core::catalog::{Action, DataTier, EnvironmentKind, Platform};
use nightshift_core::dossier::{
    DataFact, Dependency, Dossier, Evidence, SecretRef, Shape, TierFact,
};
use std::collections::BTreeMap;
/// A file among the step's modules and the catalog that contains `value` as a literal.
fn literal(
    stacks: &Stacks,
    step: &str,
    catalog: &(String, String),
    value: &str,
) -> Option<Evidence> {
    fn files(scope: &Scope, out: &mut Vec<(String, String)>) {
        out.extend(scope.module.files.iter().cloned());
        for (_, c) in &scope.children {
            files(c, out);
        }
    }
    let mut all = Vec::new();
    if let Some(root) = stacks.roots.get(step) {
        files(root, &mut all);
    }
    all.push(catalog.clone());
    let quoted = format!("\"{value}\"");
    let bare = format!("= {value}");
    all.iter()
        .find(|(_, t)| t.contains(&quoted) || t.contains(&format!(": {value}")))
        .or_else(|| all.iter().find(|(_, t)| t.contains(&bare)))
        .map(|(f, _)| Evidence::new(f, value))
}

fn value_at(scope: &Scope, body: &hcl::Body, path: &str) -> Option<String> {
    // `var.<name>`: a module input (the local cloud's stand-ins keep their settings there).
    if let Some(name) = path.strip_prefix("var.") {
        return match scope.ctx_vars.get("var") {
            Some(hcl::Value::Object(o)) => o
                .get(name)
                .and_then(hcl_to_string)
                .filter(|v| !v.is_empty()),
            _ => None,
        };
    }
    flatten(body)
        .into_iter()
        .find(|(k, _)| k == path)
        .and_then(|(_, e)| scope.eval(e))
        .and_then(|v| hcl_to_string(&v))
}

pub(crate) fn dependencies(input: &Input, stacks: &Stacks, d: &mut Dossier) {
    let catalog = (
        d.catalog_file.clone(),
        std::fs::read_to_string(input.repo_root.join(&d.catalog_file)).unwrap_or_default(),
    );
    let tracer_scope = |step: &str, path: &str| -> Option<&Scope> {
        fn find<'s>(s: &'s Scope, path: &str) -> Option<&'s Scope> {
            if s.path == path {
                return Some(s);
            }
            s.children.iter().find_map(|(_, c)| find(c, path))
        }
        find(stacks.roots.get(step)?, path)
    };
    for f in &stacks.found {
        let Some(scope) = tracer_scope(&f.step, &f.scope_path) else {
            continue;
        };
        let Some(res) = scope.module.resource(&f.rtype, &f.rname, false) else {
            continue;
        };
        let mut any = false;
        for (service, path) in f.kind.versions {
            let Some(v) = value_at(scope, &res.body, path) else {
                continue;
            };
            let Some(ev) = literal(stacks, &f.step, &catalog, &v) else {
                continue;
            };
            any = true;
            d.dependencies.push(Dependency {
                component: f.id.clone(),
                service: format!("{} — {service}", f.kind.technology),
                version: Some(v),
                comment: path.to_string(),
                evidence: Some(ev),
                also: Vec::new(),
            });
        }
        if !any && !f.kind.versions.is_empty() {
            d.dependencies.push(Dependency {
                component: f.id.clone(),
                service: f.kind.technology.into(),
                version: None,
                comment: String::new(),
                evidence: Some(f.evidence.clone()),
                also: Vec::new(),
            });
        }
    }
    for (step, root) in &stacks.roots {
        platform_dependencies(stacks, step, root, &catalog, d);
        let mut seen = BTreeMap::new();
        collect_terraform(root, &mut seen);
        for ((what, constraint), file) in seen {
            d.dependencies.push(Dependency {
                component: "Terraform".into(),
                service: what,
                version: Some(constraint.clone()),
                comment: String::new(),
                evidence: Some(Evidence::new(file, constraint)),
                also: Vec::new(),
            });
        }
    }
    runner_tools(input, d);
}

fn platform_dependencies(
    stacks: &Stacks,
    step: &str,
    scope: &Scope,
    catalog: &(String, String),
    d: &mut Dossier,
) {
    for r in scope.module.resources.iter().filter(|r| !r.data) {
        for (rtype, service, paths) in kinds::PLATFORM_DEPENDENCIES {
            if r.rtype != *rtype {
                continue;
            }
            for p in *paths {
                if let Some(v) = value_at(scope, &r.body, p) {
                    if let Some(ev) = literal(stacks, step, catalog, &v) {
                        d.dependencies.push(Dependency {
                            component: step.into(),
                            service: service.to_string(),
                            version: Some(v),
                            comment: p.to_string(),
                            evidence: Some(ev),
                            also: Vec::new(),
                        });
                    }
                }
            }
        }
    }
    for (_, c) in &scope.children {
        platform_dependencies(stacks, step, c, catalog, d);
    }
}

fn collect_terraform(scope: &Scope, seen: &mut BTreeMap<(String, String), String>) {
    if let Some((v, f)) = &scope.module.required_version {
        seen.entry(("Terraform CLI".into(), v.clone()))
            .or_insert_with(|| f.clone());
    }
    for (_, source, version, file) in &scope.module.providers {
        if !version.is_empty() {
            seen.entry((format!("provider {source}"), version.clone()))
                .or_insert_with(|| file.clone());
        }
    }
    for (_, c) in &scope.children {
        collect_terraform(c, seen);
    }
}

/// The tools a job runs with: the runner image's pins (Azure) or the local ansible-core requirement.
fn runner_tools(input: &Input, d: &mut Dossier) {
    let (file, who) = match input.product.platform {
        Platform::Azure => ("runner/Dockerfile", "runner image"),
        Platform::Local => ("crates/app/src/tools.rs", "nightshift (local)"),
    };
    let Ok(text) = std::fs::read_to_string(input.repo_root.join(file)) else {
        return;
    };
    let mut push = |service: String, version: String| {
        d.dependencies.push(Dependency {
            component: who.into(),
            service,
            version: Some(version.clone()),
            comment: String::new(),
            evidence: Some(Evidence::new(file, version)),
            also: Vec::new(),
        });
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(arg) = line.strip_prefix("ARG ") {
            if let Some((k, v)) = arg.split_once('=') {
                if let Some(tool) = k.strip_suffix("_VERSION") {
                    push(tool.to_lowercase().replace('_', "-"), v.to_string());
                }
            }
        }
        for quoted in line.split('"').skip(1).step_by(2) {
            if let Some((name, v)) = quoted.split_once(":==").or_else(|| quoted.split_once("==")) {
                if !name.contains('$') && !v.contains('$') && !name.is_empty() {
                    push(name.to_string(), v.to_string());
                }
            }
        }
        if let Some(req) = line.strip_prefix("pub const ANSIBLE_CORE_REQUIREMENT: &str = \"") {
            let req = req.trim_end_matches("\";");
            if let Some(v) = req.strip_prefix("ansible-core") {
                push("ansible-core".into(), v.to_string());
            }
        }
    }
}

/// Secrets the catalog gives steps (names in nightshift's vault) and the data tiers each seed loads here.
pub(crate) fn secrets_and_tiers(input: &Input, d: &mut Dossier) {
    let catalog = d.catalog_file.clone();
    let vault = if input.product.platform == Platform::Azure {
        "nightshift.vault"
    } else {
        "nightshift (state/key-vault)"
    };
    let env = input.environment;
    for step in input.product.steps.values() {
        for (var, secret) in &step.secrets {
            d.secrets.push(SecretRef {
                consumer: "nightshift.jobs".into(),
                setting: format!("{}: {var}", step.name),
                vault: vault.into(),
                secret: secret.clone(),
                evidence: Evidence::new(&catalog, secret.clone()),
            });
        }
        if let Action::Ansible { tiers, .. } = &step.action {
            let tiers: Vec<String> = tiers
                .iter()
                .filter(|t| !(env.kind == EnvironmentKind::Persistent && **t == DataTier::Test))
                .map(|t| format!("{t:?}").to_lowercase())
                .collect();
            d.tiers.push(TierFact {
                step: step.name.to_string(),
                environment: input.environment_name.into(),
                tiers,
                evidence: Evidence::new(&catalog, step.name.to_string()),
            });
        }
    }
}

/// The databases and collections the stacks create (their names, indexes and TTLs), for the data schema.
pub(crate) fn data(stacks: &Stacks, d: &mut Dossier) {
    fn walk(stacks: &Stacks, step: &str, scope: &Scope, d: &mut Dossier) {
        let owner = stacks
            .found
            .iter()
            .find(|f| f.step == step && f.kind.shape == Shape::Database)
            .map(|f| f.id.clone());
        let var = |k: &str| match scope.ctx_vars.get("var") {
            Some(hcl::Value::Object(o)) => o.get(k).cloned(),
            _ => None,
        };
        let text_in = |needle: &str| -> Option<Evidence> {
            fn files(s: &Scope, out: &mut Vec<(String, String)>) {
                out.extend(s.module.files.iter().cloned());
                for (_, c) in &s.children {
                    files(c, out);
                }
            }
            let mut all = Vec::new();
            files(stacks.roots.get(step)?, &mut all);
            all.into_iter()
                .find(|(_, t)| t.contains(needle))
                .map(|(f, _)| Evidence::new(f, needle))
        };
        if let Some(owner) = owner {
            for r in scope.module.resources.iter().filter(|r| !r.data) {
                let kind = match r.rtype.as_str() {
                    "azurerm_cosmosdb_mongo_database" => "MongoDB database",
                    "azurerm_mssql_database" => "SQL database",
                    "azurerm_postgresql_flexible_server_database" => "PostgreSQL database",
                    "azurerm_cosmosdb_mongo_collection" => "MongoDB collection",
                    "terraform_data" if var("database_name").is_some() => "database (SQLite file)",
                    _ => continue,
                };
                let mut push = |name: String, detail: String| {
                    if let Some(evidence) = text_in(&name) {
                        d.data.push(DataFact {
                            component: owner.clone(),
                            kind: kind.into(),
                            name,
                            detail,
                            evidence,
                        });
                    }
                };
                if r.rtype == "terraform_data" {
                    if let Some(n) = var("database_name").as_ref().and_then(hcl_to_string) {
                        push(n, String::new());
                    }
                    continue;
                }
                match super::terraform::attr(&r.body, "for_each").and_then(|e| scope.eval(e)) {
                    Some(hcl::Value::Object(items)) => {
                        for (name, v) in items {
                            push(name, collection_detail(&v));
                        }
                    }
                    _ => {
                        if let Some(n) = super::terraform::attr(&r.body, "name")
                            .and_then(|e| scope.eval(e))
                            .as_ref()
                            .and_then(hcl_to_string)
                        {
                            push(n, String::new());
                        }
                    }
                }
            }
        }
        for (_, c) in &scope.children {
            walk(stacks, step, c, d);
        }
    }
    for (step, root) in &stacks.roots {
        walk(stacks, step, root, d);
    }
}

/// "index by_patient (patientId); TTL 7776000 s" from a collection's configuration.
fn collection_detail(v: &hcl::Value) -> String {
    let hcl::Value::Object(o) = v else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(hcl::Value::Object(indexes)) = o.get("indexes") {
        for (name, idx) in indexes {
            let keys = match idx {
                hcl::Value::Object(i) => match i.get("keys") {
                    Some(hcl::Value::Array(k)) => k
                        .iter()
                        .filter_map(hcl_to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            let unique = matches!(idx, hcl::Value::Object(i) if i.get("unique") == Some(&hcl::Value::Bool(true)));
            parts.push(format!(
                "index {name} ({keys}){}",
                if unique { ", unique" } else { "" }
            ));
        }
    }
    if let Some(ttl) = o.get("default_ttl_seconds").and_then(hcl_to_string) {
        parts.push(format!("TTL {ttl} s"));
    }
    parts.join("; ")
}
