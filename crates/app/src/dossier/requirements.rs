//! The general requirements the stacks and the catalog enforce: attributes of [`super::kinds::REQUIREMENTS`] with
//! their values, role assignments, secrets by name, how the environment is destroyed, the journal, and who may act
//! (the orchestrator's role assignments).

use super::scope::Scope;
use super::terraform::{self, attr};
use super::trace::flatten;
use super::{hcl_to_string, kinds, Input, Stacks};
use nightshift_core::catalog::{EnvironmentKind, Platform};
use nightshift_core::dossier::{Dossier, Evidence, Requirement, Section};
use std::collections::BTreeMap;
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
    // Update policy: what the stacks and the runner image pin (the inventory's constraints).
    for dep in d.dependencies.clone() {
        if dep.component != "Terraform" && dep.component != "runner image" {
            continue;
        }
        if let (Some(v), Some(ev)) = (dep.version, dep.evidence) {
            d.requirements.push(Requirement {
                section: Section::Updates,
                subject: dep.component.clone(),
                measure: dep.service.clone(),
                value: v,
                evidence: ev,
            });
        }
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
