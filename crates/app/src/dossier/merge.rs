//! One dossier for several environments: the union of components and flows, per-environment values where they
//! differ.

use nightshift_core::dossier::{Dependency, Dossier, Evidence, Requirement, Section};
use std::collections::BTreeMap;
/// (value, environment) pairs.
type PerEnv<T> = Vec<(T, String)>;
/// A dependency and its version in each environment.
type Versions = (Dependency, PerEnv<Option<String>>);

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
        data: Vec::new(),
        ..first
    };
    let mut versions: BTreeMap<(String, String), Versions> = BTreeMap::new();
    let mut sources: BTreeMap<(String, String), Vec<Evidence>> = BTreeMap::new();
    let mut reqs: BTreeMap<(Section, String, String), (Requirement, PerEnv<String>)> =
        BTreeMap::new();
    let env_names: Vec<String> = all.iter().map(|(e, _)| e.clone()).collect();
    for (env, d) in all.drain(..) {
        out.components.extend(d.components);
        out.flows.extend(d.flows);
        out.secrets.extend(d.secrets);
        out.tiers.extend(d.tiers);
        out.data.extend(d.data);
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
