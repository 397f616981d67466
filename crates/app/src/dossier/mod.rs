//! The technical dossier of a product's environment, extracted from the catalog and the Terraform stacks (issue 11).
//!
//! [`build`] reads every Terraform step's stack (and the local modules it calls), evaluates what is known before any
//! apply (the catalog's values, defaults, locals; a run's outputs when there is one), finds the components (resource
//! types of [`kinds`]), and derives the flows by tracing each component's settings back to the step outputs they
//! come from (`trace`): an app whose connection string is the data layer's output talks to that database. The
//! catalog's `dossier:` section adds what code cannot show. The result is the core's [`Dossier`], rendered there.

mod facts;
mod functions;
mod inventory;
mod kinds;
mod merge;
mod requirements;
mod scope;
mod terraform;
mod trace;

use nightshift_core::catalog::{Action, EnvironmentDef, Product};
use nightshift_core::dossier::{Boundary, Component, Dossier, EnvironmentFacts, Evidence};
use nightshift_core::template::{self, Reference};
use scope::Scope;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use terraform::Module;

pub use merge::merge_environments;

/// A run's facts, for the per-environment dossier.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub id: String,
    pub version: Option<String>,
    pub expires_at: Option<String>,
    /// step -> output -> value
    pub outputs: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
}

pub struct Input<'a> {
    pub repo_root: &'a Path,
    pub product: &'a Product,
    pub environment: &'a EnvironmentDef,
    /// The concrete environment name (`pr-123` for the `pr` entry).
    pub environment_name: &'a str,
    pub run: Option<&'a RunFacts>,
}

/// A component found in a stack, before its id is final.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub step: String,
    pub scope_path: String,
    pub rtype: String,
    pub rname: String,
    pub key: Option<String>,
    pub kind: kinds::Kind,
    pub location: Option<String>,
    /// The DNS zone a DNS provider component publishes.
    pub zone: Option<String>,
    pub evidence: Evidence,
    pub id: String,
}

/// Every step's stack, loaded and evaluated.
pub(crate) struct Stacks {
    pub roots: BTreeMap<String, Scope>,
    pub found: Vec<Found>,
    pub warnings: Vec<String>,
}

fn json_to_hcl(v: &serde_json::Value) -> hcl::Value {
    hcl::to_value(v).unwrap_or(hcl::Value::Null)
}

fn hcl_to_string(v: &hcl::Value) -> Option<String> {
    match v {
        hcl::Value::String(s) => Some(s.clone()),
        hcl::Value::Number(n) => Some(n.to_string()),
        hcl::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The value the catalog passes for one var, when known: a literal, an environment var, or an upstream output
/// (from the run, or evaluated from the upstream stack's configuration).
fn catalog_value(
    v: &serde_json::Value,
    input: &Input,
    roots: &BTreeMap<String, Scope>,
) -> Option<hcl::Value> {
    let serde_json::Value::String(s) = v else {
        return Some(json_to_hcl(v));
    };
    let refs = template::references(s).ok()?;
    if refs.is_empty() {
        return Some(hcl::Value::String(s.replace("$${", "${")));
    }
    if refs.len() != 1 || !s.starts_with("${") || !s.ends_with('}') {
        return None;
    }
    match &refs[0] {
        Reference::Output { step, output } => {
            if let Some(v) = input
                .run
                .and_then(|r| r.outputs.get(step.as_str())?.get(output))
            {
                return Some(json_to_hcl(v));
            }
            let scope = roots.get(step.as_str())?;
            scope.eval(&scope.module.outputs.get(output)?.0)
        }
        Reference::Context(c) => match c.as_str() {
            "env.name" => Some(input.environment_name.into()),
            "env.kind" => Some(input.environment.kind.as_str().into()),
            "product.name" => Some(input.product.name.as_str().into()),
            other => other
                .strip_prefix("env.vars.")
                .and_then(|k| input.environment.vars.get(k))
                .map(|v| hcl::Value::from(v.as_str())),
        },
    }
}

fn load_stacks(input: &Input) -> Stacks {
    let mut roots: BTreeMap<String, Scope> = BTreeMap::new();
    let mut warnings = Vec::new();
    let product = input.product;
    let mut pending: Vec<_> = product.steps.values().collect();
    // Upstream steps first, so their outputs are known to the steps that use them.
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|s| {
                s.needs
                    .iter()
                    .all(|n| !pending.iter().any(|p| &p.name == n))
            })
            .unwrap_or(0);
        let step = pending.remove(ready);
        let Action::Terraform { stack, vars } = &step.action else {
            continue;
        };
        let module: Rc<Module> =
            match terraform::load(input.repo_root, &input.repo_root.join(stack), 0) {
                Ok(m) => m,
                Err(e) => {
                    warnings.push(format!("steps.{}: {e}", step.name));
                    continue;
                }
            };
        let mut inputs = BTreeMap::new();
        let kind = input.environment.kind.as_str();
        let tags = hcl::Value::Object(
            [
                ("nightshift-kind", kind),
                ("nightshift-product", product.name.as_str()),
                ("nightshift-environment", input.environment_name),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), hcl::Value::from(v)))
            .collect(),
        );
        inputs.insert("nightshift_tags".to_string(), tags);
        inputs.insert("environment".into(), input.environment_name.into());
        inputs.insert("product".into(), product.name.as_str().into());
        for (k, v) in vars {
            if let Some(v) = catalog_value(v, input, &roots) {
                inputs.insert(k.clone(), v);
            }
        }
        let scope = Scope::build(module, step.name.to_string(), None, inputs, None);
        roots.insert(step.name.to_string(), scope);
    }
    let mut found = Vec::new();
    for step in product.steps.keys() {
        if let Some(root) = roots.get(step.as_str()) {
            find_components(step.as_str(), root, None, &mut found);
        }
    }
    assign_ids(&mut found);
    Stacks {
        roots,
        found,
        warnings,
    }
}

fn find_components(step: &str, scope: &Scope, call_file: Option<&str>, out: &mut Vec<Found>) {
    let kind_input = scope.ctx_vars.get("var").and_then(|v| match v {
        hcl::Value::Object(o) => o.get("kind").and_then(hcl_to_string),
        _ => None,
    });
    let mut cloudflare_done = false;
    for r in scope.module.resources.iter().filter(|r| !r.data) {
        let attr_value = |k: &str| {
            terraform::attr(&r.body, k)
                .and_then(|e| scope.eval(e))
                .and_then(|v| hcl_to_string(&v))
        };
        let (kind, evidence) = if r.rtype == "terraform_data" {
            // By the module's `kind` input, else by the resource's name, else by the module call's (the local
            // key-vault module).
            let by_call = kinds::of_local_name(&scope.call).map(|k| {
                let ev = Evidence::new(
                    call_file.unwrap_or(&r.file),
                    format!("module \"{}\"", scope.call),
                );
                (k, ev)
            });
            match (
                kind_input.as_deref().and_then(kinds::of_local),
                kinds::of_local_name(&r.name),
            ) {
                (Some(k), _) => {
                    let text = kind_input.clone().unwrap_or_default();
                    (k, Evidence::new(call_file.unwrap_or(&r.file), text))
                }
                (None, Some(k)) => (
                    k,
                    Evidence::new(&r.file, format!("\"terraform_data\" \"{}\"", r.name)),
                ),
                _ => match by_call {
                    Some(found) => found,
                    None => continue,
                },
            }
        } else {
            match kinds::of_type(&r.rtype, &attr_value) {
                Some(k) => (k, Evidence::new(&r.file, r.rtype.clone())),
                None => continue,
            }
        };
        // One DNS provider component per step, however many records.
        if kind.slug == "cloudflare" {
            if cloudflare_done {
                continue;
            }
            cloudflare_done = true;
        }
        // The DNS provider's zone, where the records are published.
        let zone = (kind.slug == "cloudflare")
            .then(|| match scope.ctx_vars.get("var") {
                Some(hcl::Value::Object(o)) => o.get("zone_name").and_then(hcl_to_string),
                _ => None,
            })
            .flatten();
        let location = match attr_value("location") {
            Some(l) => Some(format!("Azure {l}")),
            None if r.rtype == "terraform_data" => Some("local cloud".into()),
            None => None,
        };
        out.push(Found {
            step: step.to_string(),
            scope_path: scope.path.clone(),
            rtype: r.rtype.clone(),
            rname: r.name.clone(),
            key: scope.key.clone(),
            kind,
            location,
            zone,
            evidence,
            id: String::new(),
        });
    }
    for (call_name, child) in &scope.children {
        let file = scope
            .module
            .call(call_name)
            .map(|c| c.file.as_str())
            .unwrap_or_default();
        find_components(step, child, Some(file), out);
    }
}

/// `<step>` when the step has one component; else `<step>.<for_each key>`, `<step>.<kind>` or
/// `<step>.<resource name>`, whichever is unique.
fn assign_ids(found: &mut [Found]) {
    let mut per_step: BTreeMap<String, usize> = BTreeMap::new();
    for f in found.iter() {
        *per_step.entry(f.step.clone()).or_default() += 1;
    }
    let snapshot = found.to_vec();
    for f in found.iter_mut() {
        if per_step[&f.step] == 1 {
            f.id = f.step.clone();
            continue;
        }
        let same_slug = snapshot
            .iter()
            .filter(|g| g.step == f.step && g.kind.slug == f.kind.slug)
            .count();
        let suffix = match &f.key {
            Some(k) => k.clone(),
            None if same_slug == 1 => f.kind.slug.to_string(),
            None => f.rname.replace('_', "-"),
        };
        f.id = format!("{}.{suffix}", f.step);
    }
}

/// The environment's dossier. Pure over the files it reads: the same files and run give the same dossier.
pub fn build(input: &Input) -> Dossier {
    let product = input.product;
    let stacks = load_stacks(input);
    let mut d = Dossier {
        product: product.name.to_string(),
        description: product.description.clone(),
        platform: format!("{:?}", product.platform).to_lowercase(),
        catalog_file: relative(input.repo_root, &product.source),
        repository: product.dossier.project.repository.clone(),
        hosting: product.dossier.project.hosting.clone(),
        warnings: stacks.warnings.clone(),
        ..Default::default()
    };
    d.environment = Some(EnvironmentFacts {
        name: input.environment_name.to_string(),
        kind: input.environment.kind.as_str().into(),
        lifetime: input.environment.lifetime.map(|t| t.to_string()),
        run: input.run.map(|r| r.id.clone()),
        version: input.run.and_then(|r| r.version.clone()),
        expires_at: input.run.and_then(|r| r.expires_at.clone()),
        urls: input
            .run
            .map(|r| {
                r.outputs
                    .iter()
                    .flat_map(|(step, outs)| {
                        outs.iter().filter_map(move |(k, v)| match v {
                            serde_json::Value::String(s) if s.starts_with("https://") => {
                                Some((format!("{step}.{k}"), s.clone()))
                            }
                            _ => None,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    });
    for f in &stacks.found {
        d.components.push(Component {
            id: f.id.clone(),
            name: f.id.clone(),
            shape: f.kind.shape,
            boundary: f.kind.boundary,
            technology: f.kind.technology.to_string(),
            description: String::new(),
            location: f.location.clone(),
            url: f.zone.clone(),
            evidence: Some(f.evidence.clone()),
        });
    }
    facts::flows(input, &stacks, &mut d);
    facts::nightshift(input, &stacks, &mut d);
    facts::declared(input, &mut d);
    inventory::dependencies(input, &stacks, &mut d);
    inventory::secrets_and_tiers(input, &mut d);
    inventory::data(&stacks, &mut d);
    requirements::requirements(input, &stacks, &mut d);
    // Components people see by name: public URLs from the run, when there was one.
    if let Some(run) = input.run {
        for c in d
            .components
            .iter_mut()
            .filter(|c| c.boundary == Boundary::Environment)
        {
            let step = c.id.split('.').next().unwrap_or_default();
            if let Some(outs) = run.outputs.get(step) {
                let url = ["api_url", "url"]
                    .iter()
                    .find_map(|k| outs.get(*k)?.as_str().map(String::from));
                if c.id == step {
                    c.url = url;
                }
            }
        }
    }
    // Hosting, unless declared: the places the stacks put the environment's components.
    if d.hosting.is_none() {
        let mut places: Vec<String> = d
            .components
            .iter()
            .filter(|c| c.boundary == Boundary::Environment)
            .filter_map(|c| c.location.clone())
            .collect();
        places.sort();
        places.dedup();
        if !places.is_empty() {
            d.hosting = Some(places.join(", "));
        }
    }
    d.normalize();
    d
}

pub(crate) fn relative(root: &Path, p: &str) -> String {
    Path::new(p)
        .strip_prefix(root)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| p.to_string())
}

/// The environment entry a concrete name belongs to (`pr-123` -> the pull-request entry).
pub fn resolve_environment<'a>(product: &'a Product, name: &str) -> Option<&'a EnvironmentDef> {
    let name = nightshift_core::EnvironmentName::parse(name).ok()?;
    product.resolve_environment(&name)
}
