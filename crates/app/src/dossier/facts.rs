//! The dossier's facts beyond the derived flows: nightshift's own parts and edges, the catalog's declared
//! components and flows, the dependency inventory (versions and SKUs the stacks pin, Terraform and provider
//! constraints, the runner image's tools), secrets by name, data tiers, and the general requirements the stacks and
//! the catalog enforce.

use super::terraform::{self, attr, Scope};
use super::trace::{flatten, Tracer};
use super::{hcl_to_string, kinds, Input, Stacks};
use nightshift_core::catalog::annotations::DeclaredKind;
use nightshift_core::catalog::{Action, DataTier, EnvironmentKind, Platform};
use nightshift_core::dossier::{
    Boundary, Component, Dependency, Dossier, Evidence, Flow, Origin, Requirement, SecretRef,
    Section, Shape, TierFact,
};
use std::collections::BTreeMap;

fn comp(
    id: &str,
    name: &str,
    shape: Shape,
    boundary: Boundary,
    tech: &str,
    url: Option<&str>,
    ev: Evidence,
) -> Component {
    Component {
        id: id.into(),
        name: name.into(),
        shape,
        boundary,
        technology: tech.into(),
        description: String::new(),
        location: None,
        url: url.map(String::from),
        evidence: Some(ev),
    }
}

fn flow(
    src: &str,
    dst: &str,
    protocol: &str,
    port: Option<u16>,
    label: &str,
    origin: Origin,
    ev: Evidence,
) -> Flow {
    Flow {
        source: src.into(),
        destination: dst.into(),
        protocol: protocol.into(),
        port,
        label: label.into(),
        origin,
        evidence: ev,
    }
}

/// nightshift's jobs and what they reach: the store and the queue they report to, ARM and the DNS provider Terraform
/// drives, the vault step secrets come from, and the databases and APIs seeds and smoke checks use (from the
/// catalog's `${step.output}` templates). The people using the product reach its public components.
pub(crate) fn nightshift(input: &Input, stacks: &Stacks, d: &mut Dossier) {
    let catalog = d.catalog_file.clone();
    let azure = input.product.platform == Platform::Azure;
    let jobs = "nightshift.jobs";
    let (tech, store_tech) = if azure {
        (
            "Azure Container Instances (runner/Dockerfile)",
            "Azure Blob Storage",
        )
    } else {
        (
            "local processes (crates/local/src/jobs.rs)",
            "files (.nightshift/store)",
        )
    };
    d.components.push(comp(
        jobs,
        "nightshift jobs",
        Shape::Container,
        Boundary::Nightshift,
        tech,
        None,
        Evidence::new("crates/app/src/runner.rs", "runner"),
    ));
    d.components.push(comp(
        "nightshift.store",
        "nightshift store",
        Shape::Database,
        Boundary::Nightshift,
        store_tech,
        None,
        Evidence::new(
            "crates/app/src/repo.rs",
            "results/{run}/{step}/{attempt}.json",
        ),
    ));
    if azure {
        d.components.push(comp(
            "nightshift.bus",
            "nightshift Service Bus",
            Shape::Container,
            Boundary::Nightshift,
            "Azure Service Bus",
            None,
            Evidence::new("crates/azure/src/servicebus.rs", "servicebus.windows.net"),
        ));
        d.components.push(comp(
            "nightshift.vault",
            "nightshift Key Vault",
            Shape::Container,
            Boundary::Nightshift,
            "Azure Key Vault",
            None,
            Evidence::new("crates/azure/src/keyvault.rs", "vault.azure.net"),
        ));
        d.components.push(comp(
            "arm",
            "Azure Resource Manager",
            Shape::External,
            Boundary::Outside,
            "Azure Resource Manager",
            Some("https://management.azure.com"),
            Evidence::new("crates/azure/src/arm.rs", "https://management.azure.com"),
        ));
        d.flows.push(flow(
            jobs,
            "nightshift.store",
            "HTTPS",
            Some(443),
            "results, logs, Terraform state",
            Origin::Nightshift,
            Evidence::new("crates/azure/src/blob.rs", "blob.core.windows.net"),
        ));
        d.flows.push(flow(
            jobs,
            "nightshift.bus",
            "HTTPS",
            Some(443),
            "step-events",
            Origin::Nightshift,
            Evidence::new("crates/azure/src/servicebus.rs", "https://"),
        ));
    } else {
        d.flows.push(flow(
            jobs,
            "nightshift.store",
            "file",
            None,
            "results, logs, Terraform state",
            Origin::Nightshift,
            Evidence::new("crates/local/src/store.rs", "fs"),
        ));
    }
    // Terraform's providers: ARM for azurerm, the DNS provider's API for cloudflare.
    for (step, root) in &stacks.roots {
        for (name, source, _, file) in all_providers(root) {
            match (name.as_str(), azure) {
                ("azurerm", true) => d.flows.push(flow(
                    jobs,
                    "arm",
                    "HTTPS",
                    Some(443),
                    &format!("terraform ({step})"),
                    Origin::Nightshift,
                    Evidence::new(file, source),
                )),
                ("cloudflare", _) => {
                    if let Some(c) = stacks
                        .found
                        .iter()
                        .find(|f| &f.step == step && f.kind.slug == "cloudflare")
                    {
                        d.flows.push(flow(
                            jobs,
                            &c.id,
                            "HTTPS",
                            Some(443),
                            "Cloudflare API (terraform)",
                            Origin::Nightshift,
                            Evidence::new(file, source),
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    // Seeds and smoke checks: what their vars and env name.
    let tracer = Tracer::new(input, stacks);
    for step in input.product.steps.values() {
        let values: Vec<(&String, String)> = match &step.action {
            Action::Ansible { vars, .. } => vars
                .iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                .collect(),
            Action::Smoke { env, .. } => env.iter().map(|(k, v)| (k, v.clone())).collect(),
            Action::Terraform { .. } => continue,
        };
        for (k, v) in values {
            let label = (k.clone(), catalog.clone());
            for h in tracer.template(&v, &label) {
                let to = &stacks.found[h.comp];
                d.flows.push(flow(
                    jobs,
                    &to.id,
                    to.kind.protocol,
                    to.kind.port,
                    &format!("{} ({})", k, step.name),
                    Origin::Nightshift,
                    Evidence::new(&catalog, k.clone()),
                ));
                if let (Some(secret), "key-vault") = (&h.secret, to.kind.slug) {
                    d.secrets.push(SecretRef {
                        consumer: jobs.into(),
                        setting: format!("{}: {k}", step.name),
                        vault: to.id.clone(),
                        secret: secret.clone(),
                        evidence: Evidence::new(&catalog, k.clone()),
                    });
                }
            }
        }
        if azure && !step.secrets.is_empty() {
            let first = step.secrets.keys().next().cloned().unwrap_or_default();
            d.flows.push(flow(
                jobs,
                "nightshift.vault",
                "HTTPS",
                Some(443),
                "step secrets",
                Origin::Nightshift,
                Evidence::new(&catalog, first),
            ));
        }
    }
    let public: Vec<_> = stacks.found.iter().filter(|f| f.kind.public).collect();
    if !public.is_empty() {
        d.components.push(comp(
            "users",
            "Users",
            Shape::Person,
            Boundary::Outside,
            "",
            None,
            Evidence::new(&catalog, "product"),
        ));
        for f in public {
            let (proto, port) = (f.kind.protocol, f.kind.port);
            d.flows.push(flow(
                "users",
                &f.id,
                proto,
                port,
                f.kind.technology,
                Origin::Stacks,
                f.evidence.clone(),
            ));
        }
    }
}

fn all_providers(scope: &Scope) -> Vec<(String, String, String, String)> {
    let mut out = scope.module.providers.clone();
    for (_, c) in &scope.children {
        out.extend(all_providers(c));
    }
    out
}

/// The catalog's `dossier:` components and flows. A flow from or to a step with several components stands for each.
pub(crate) fn declared(input: &Input, d: &mut Dossier) {
    let ann = &input.product.dossier;
    let catalog = d.catalog_file.clone();
    for (id, c) in &ann.components {
        let (shape, boundary) = match c.kind {
            DeclaredKind::External => (Shape::External, Boundary::Outside),
            DeclaredKind::Person => (Shape::Person, Boundary::Outside),
            DeclaredKind::Container => (Shape::Container, Boundary::Environment),
            DeclaredKind::Database => (Shape::Database, Boundary::Environment),
        };
        let mut component = comp(
            id,
            &c.name,
            shape,
            boundary,
            &c.description,
            c.url.as_deref(),
            Evidence::new(&catalog, format!("{id}:")),
        );
        component.description = c.description.clone();
        component.location = c.location.clone();
        d.components.push(component);
        if let Some(v) = &c.version {
            d.dependencies.push(Dependency {
                component: id.clone(),
                service: c.name.clone(),
                version: Some(v.clone()),
                comment: c.description.clone(),
                evidence: Some(Evidence::new(&catalog, v.clone())),
                also: Vec::new(),
            });
        }
    }
    if ann
        .flows
        .iter()
        .any(|f| f.from == "users" || f.to == "users")
        && d.component("users").is_none()
    {
        d.components.push(comp(
            "users",
            "Users",
            Shape::Person,
            Boundary::Outside,
            "",
            None,
            Evidence::new(&catalog, "users"),
        ));
    }
    let expand = |d: &Dossier, id: &str| -> Vec<String> {
        if d.component(id).is_some() {
            return vec![id.to_string()];
        }
        d.components
            .iter()
            .filter(|c| c.id.starts_with(&format!("{id}.")))
            .map(|c| c.id.clone())
            .collect()
    };
    for f in &ann.flows {
        let (froms, tos) = (expand(d, &f.from), expand(d, &f.to));
        if froms.is_empty() || tos.is_empty() {
            d.warnings.push(format!(
                "{}:{}: dossier flow {} -> {}: no such component in the stacks",
                catalog, f.line, f.from, f.to
            ));
        }
        for a in &froms {
            for b in &tos {
                let label = if f.description.is_empty() {
                    f.protocol.clone()
                } else {
                    f.description.clone()
                };
                d.flows.push(flow(
                    a,
                    b,
                    &f.protocol,
                    f.port,
                    &label,
                    Origin::Declared,
                    Evidence::new(&catalog, f.to.clone()),
                ));
            }
        }
    }
}

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

fn requirements_in(stacks: &Stacks, step: &str, scope: &Scope, d: &mut Dossier) {
    for r in scope.module.resources.iter().filter(|r| !r.data) {
        let subject = stacks
            .found
            .iter()
            .find(|f| {
                f.step == step
                    && f.scope_path == scope.path
                    && f.rtype == r.rtype
                    && f.rname == r.name
            })
            .map(|f| f.id.clone())
            .unwrap_or_else(|| step.to_string());
        if r.rtype == "azurerm_role_assignment" {
            let role = attr(&r.body, "role_definition_name")
                .and_then(|e| scope.eval(e))
                .and_then(|v| hcl_to_string(&v));
            let what = attr(&r.body, "description")
                .and_then(|e| scope.eval(e))
                .and_then(|v| hcl_to_string(&v));
            if role.is_some() || what.is_some() {
                let value = match (role, what) {
                    (Some(r), Some(w)) => format!("{r}: {w}"),
                    (Some(r), None) => r,
                    (None, Some(w)) => w,
                    (None, None) => unreachable!("one is set"),
                };
                d.requirements.push(Requirement {
                    section: Section::Authentication,
                    subject: subject.clone(),
                    measure: format!("azurerm_role_assignment.{}", r.name),
                    value,
                    evidence: Evidence::new(&r.file, r.name.clone()),
                });
            }
        }
        for (path, e) in flatten(&r.body) {
            let Some((_, section)) = kinds::REQUIREMENTS
                .iter()
                .find(|(k, _)| path == *k || path.ends_with(&format!(".{k}")))
            else {
                continue;
            };
            let Some(v) = scope.eval(e).and_then(|v| hcl_to_string(&v)) else {
                continue;
            };
            let key = path.rsplit('.').next().unwrap_or(&path).to_string();
            d.requirements.push(Requirement {
                section: *section,
                subject: subject.clone(),
                measure: format!("{}.{path}", r.rtype),
                value: v,
                evidence: Evidence::new(&r.file, key),
            });
        }
    }
    for (_, c) in &scope.children {
        requirements_in(stacks, step, c, d);
    }
}

pub(crate) fn requirements(input: &Input, stacks: &Stacks, d: &mut Dossier) {
    for (step, root) in &stacks.roots {
        requirements_in(stacks, step, root, d);
    }
    let catalog = d.catalog_file.clone();
    for s in d.secrets.clone() {
        d.requirements.push(Requirement {
            section: Section::Confidentiality,
            subject: s.consumer.clone(),
            measure: format!("Key Vault: {}", s.setting),
            value: s.secret.clone(),
            evidence: s.evidence.clone(),
        });
    }
    let env = input.environment;
    let (measure, value) = match (env.kind, env.lifetime) {
        (EnvironmentKind::Persistent, _) => ("kind", "persistent: never expires, never swept".to_string()),
        (k, Some(l)) => ("lifetime", format!("{l} ({}): resource groups tagged nightshift-expires-at, deleted by the expiry sweep", k.as_str())),
        (k, None) => ("kind", format!("{}: default lifetime, deleted by the expiry sweep", k.as_str())),
    };
    d.requirements.push(Requirement {
        section: Section::Confidentiality,
        subject: env.name.to_string(),
        measure: format!("environments.{}.{measure}", env.name),
        value,
        evidence: Evidence::new(&catalog, measure),
    });
    if let Some(s) = &env.schedule {
        d.requirements.push(Requirement {
            section: Section::Updates,
            subject: env.name.to_string(),
            measure: format!("environments.{}.schedule", env.name),
            value: format!(
                "rebuilt from the stacks at {} {}",
                s.at.format("%H:%M"),
                s.timezone
            ),
            evidence: Evidence::new(&catalog, "schedule"),
        });
    }
    d.requirements.push(Requirement { section: Section::Traceability, subject: "nightshift".into(), measure: "journal".into(), value: "runs/<run>.json (every state transition), logs/<run>/<step>/<attempt>.log (secret values redacted)".into(), evidence: Evidence::new("crates/app/src/repo.rs", "logs/{run}/{step}/{attempt}.log") });
    // Who may act on environments: nightshift's own identities and their roles (terraform/orchestrator).
    if input.product.platform == Platform::Azure {
        if let Ok(m) = terraform::load(
            input.repo_root,
            &input.repo_root.join("terraform/orchestrator"),
            0,
        ) {
            let scope = Scope::build(m, "orchestrator".into(), None, BTreeMap::new(), None);
            let mut orch = Dossier::default();
            requirements_in(stacks, "nightshift", &scope, &mut orch);
            d.requirements.extend(
                orch.requirements
                    .into_iter()
                    .filter(|r| r.measure.starts_with("azurerm_role_assignment")),
            );
        }
    }
}

/// One dossier for several environments: the union of components and flows, and per-environment values where they
/// differ ("B1 (nightly, pr) / P1v3 (prod)").
pub fn merge_environments(mut all: Vec<(String, Dossier)>) -> Dossier {
    let Some((_, first)) = all.first().cloned() else {
        return Dossier::default();
    };
    let mut out = Dossier {
        environment: None,
        components: Vec::new(),
        flows: Vec::new(),
        dependencies: Vec::new(),
        secrets: Vec::new(),
        tiers: Vec::new(),
        requirements: Vec::new(),
        ..first
    };
    let mut versions: BTreeMap<(String, String), (Dependency, Vec<(Option<String>, String)>)> =
        BTreeMap::new();
    let mut sources: BTreeMap<(String, String), Vec<Evidence>> = BTreeMap::new();
    let mut reqs: BTreeMap<
        (nightshift_core::dossier::Section, String, String),
        (Requirement, Vec<(String, String)>),
    > = BTreeMap::new();
    let env_names: Vec<String> = all.iter().map(|(e, _)| e.clone()).collect();
    for (env, d) in all.drain(..) {
        out.components.extend(d.components);
        out.flows.extend(d.flows);
        out.secrets.extend(d.secrets);
        out.tiers.extend(d.tiers);
        out.warnings.extend(d.warnings);
        for dep in d.dependencies {
            if let Some(ev) = &dep.evidence {
                let s = sources.entry(dep.key()).or_default();
                if !s.contains(ev) {
                    s.push(ev.clone());
                }
            }
            let e = versions
                .entry(dep.key())
                .or_insert_with(|| (dep.clone(), Vec::new()));
            e.1.push((dep.version.clone(), env.clone()));
        }
        for r in d.requirements {
            let e = reqs
                .entry((r.section, r.subject.clone(), r.measure.clone()))
                .or_insert_with(|| (r.clone(), Vec::new()));
            e.1.push((r.value.clone(), env.clone()));
        }
    }
    fn joined<T: Clone + PartialEq>(
        values: &[(T, String)],
        show: impl Fn(&T) -> String,
    ) -> Option<String> {
        let distinct: Vec<&T> = values.iter().fold(Vec::new(), |mut acc, (v, _)| {
            if !acc.contains(&v) {
                acc.push(v);
            }
            acc
        });
        (distinct.len() > 1).then(|| {
            distinct
                .iter()
                .map(|v| {
                    let envs: Vec<&str> = values
                        .iter()
                        .filter(|(x, _)| x == *v)
                        .map(|(_, e)| e.as_str())
                        .collect();
                    format!("{} ({})", show(v), envs.join(", "))
                })
                .collect::<Vec<_>>()
                .join(" / ")
        })
    }
    // A value unknown in some environments shows as "?" there, never as the others' value.
    for (_, vs) in versions.values_mut() {
        for e in &env_names {
            if !vs.iter().any(|(_, x)| x == e) {
                vs.push((None, e.clone()));
            }
        }
    }
    for (_, (mut dep, vs)) in versions {
        if let Some(j) = joined(&vs, |v| v.clone().unwrap_or_else(|| "?".into())) {
            dep.version = Some(j);
            dep.also = sources
                .get(&dep.key())
                .map(|s| {
                    s.iter()
                        .filter(|e| Some(*e) != dep.evidence.as_ref())
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
        }
        out.dependencies.push(dep);
    }
    for (_, (mut r, vs)) in reqs {
        if let Some(j) = joined(&vs, |v| v.clone()) {
            r.value = j;
        }
        out.requirements.push(r);
    }
    out.warnings.sort();
    out.warnings.dedup();
    out.normalize();
    out
}
