//! nightshift's own parts and edges, and the catalog's declared components and flows.
//!
//! nightshift's jobs reach the store and the queue they report to, ARM and the DNS provider Terraform drives, the
//! vault step secrets come from, and whatever the seeds and smoke checks name; the product's users reach its public
//! components. What the code cannot show comes from the catalog's `dossier:` section.

use super::scope::Scope;
use super::trace::Tracer;
use super::{Input, Stacks};
use nightshift_core::catalog::annotations::DeclaredKind;
use nightshift_core::catalog::{Action, Platform};
use nightshift_core::dossier::{
    Boundary, Component, Dependency, Dossier, Evidence, Flow, Origin, SecretRef, Shape,
};
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
        for c in d
            .components
            .iter_mut()
            .filter(|c| c.boundary == Boundary::Nightshift)
        {
            c.location = Some("local machine".into());
        }
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

/// The flows and Key Vault references the stacks show.
pub(crate) fn flows(input: &Input, stacks: &Stacks, d: &mut Dossier) {
    let tracer = Tracer::new(input, stacks);
    for (i, f) in stacks.found.iter().enumerate() {
        if f.kind.boundary != Boundary::Environment {
            continue;
        }
        for h in tracer.component(i) {
            if h.comp == i {
                continue;
            }
            let to = &stacks.found[h.comp];
            let (src, dst) = if h.reverse { (to, f) } else { (f, to) };
            let evidence = Evidence::new(&h.label.1, h.label.0.clone());
            d.flows.push(Flow {
                source: src.id.clone(),
                destination: dst.id.clone(),
                protocol: dst.kind.protocol.to_string(),
                port: dst.kind.port,
                label: h.label.0.clone(),
                origin: Origin::Stacks,
                evidence: evidence.clone(),
            });
            if let (Some(secret), "key-vault") = (&h.secret, to.kind.slug) {
                d.secrets.push(SecretRef {
                    consumer: f.id.clone(),
                    setting: h.label.0.clone(),
                    vault: to.id.clone(),
                    secret: secret.clone(),
                    evidence,
                });
            }
        }
    }
}
