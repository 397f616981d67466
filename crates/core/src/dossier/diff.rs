//! What changed between two dossiers (two builds of an environment): flows, components, dependencies and versions,
//! secrets.

use super::{Dossier, Lang};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DossierDiff {
    pub components_added: Vec<String>,
    pub components_removed: Vec<String>,
    /// "source -> destination (protocol port)"
    pub flows_added: Vec<String>,
    pub flows_removed: Vec<String>,
    /// "component / service version"
    pub dependencies_added: Vec<String>,
    pub dependencies_removed: Vec<String>,
    /// (component / service, before, after)
    pub versions_changed: Vec<(String, String, String)>,
    pub secrets_added: Vec<String>,
    pub secrets_removed: Vec<String>,
}

impl DossierDiff {
    pub fn is_empty(&self) -> bool {
        self == &DossierDiff::default()
    }
}

fn split<T: Ord + Clone>(a: &[T], b: &[T]) -> (Vec<T>, Vec<T>) {
    let added = b.iter().filter(|x| !a.contains(x)).cloned().collect();
    let removed = a.iter().filter(|x| !b.contains(x)).cloned().collect();
    (added, removed)
}

pub fn diff(a: &Dossier, b: &Dossier) -> DossierDiff {
    let comps =
        |d: &Dossier| -> Vec<String> { d.components.iter().map(|c| c.id.clone()).collect() };
    let flows = |d: &Dossier| -> Vec<String> {
        d.flows
            .iter()
            .map(|f| {
                let port = f.port.map(|p| format!(" {p}")).unwrap_or_default();
                format!("{} -> {} ({}{port})", f.source, f.destination, f.protocol)
            })
            .collect()
    };
    let deps = |d: &Dossier| -> BTreeMap<String, String> {
        d.dependencies
            .iter()
            .map(|x| {
                (
                    format!("{} / {}", x.component, x.service),
                    x.version.clone().unwrap_or_else(|| "?".into()),
                )
            })
            .collect()
    };
    let secrets = |d: &Dossier| -> Vec<String> {
        d.secrets
            .iter()
            .map(|s| format!("{} {} <- {}/{}", s.consumer, s.setting, s.vault, s.secret))
            .collect()
    };
    let (components_added, components_removed) = split(&comps(a), &comps(b));
    let (flows_added, flows_removed) = split(&flows(a), &flows(b));
    let (secrets_added, secrets_removed) = split(&secrets(a), &secrets(b));
    let (da, db) = (deps(a), deps(b));
    let mut out = DossierDiff {
        components_added,
        components_removed,
        flows_added,
        flows_removed,
        secrets_added,
        secrets_removed,
        ..Default::default()
    };
    for (k, v) in &db {
        match da.get(k) {
            None => out.dependencies_added.push(format!("{k} {v}")),
            Some(old) if old != v => out
                .versions_changed
                .push((k.clone(), old.clone(), v.clone())),
            _ => {}
        }
    }
    for (k, v) in &da {
        if !db.contains_key(k) {
            out.dependencies_removed.push(format!("{k} {v}"));
        }
    }
    out
}

/// The diff for people, one line per change.
pub fn render(d: &DossierDiff, lang: Lang) -> String {
    if d.is_empty() {
        return format!("{}\n", lang.t("Aucun changement.", "No change."));
    }
    let mut out = String::new();
    let mut list = |title: &str, sign: char, items: &[String]| {
        for i in items {
            out.push_str(&format!("{sign} {title}: {i}\n"));
        }
    };
    list(lang.t("composant", "component"), '+', &d.components_added);
    list(lang.t("composant", "component"), '-', &d.components_removed);
    list(lang.t("flux", "flow"), '+', &d.flows_added);
    list(lang.t("flux", "flow"), '-', &d.flows_removed);
    list(
        lang.t("dépendance", "dependency"),
        '+',
        &d.dependencies_added,
    );
    list(
        lang.t("dépendance", "dependency"),
        '-',
        &d.dependencies_removed,
    );
    list("secret", '+', &d.secrets_added);
    list("secret", '-', &d.secrets_removed);
    for (k, a, b) in &d.versions_changed {
        out.push_str(&format!("~ version: {k}: {a} -> {b}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Dependency, Evidence, Flow, Origin};
    use super::*;

    fn flow(s: &str, d: &str) -> Flow {
        Flow {
            source: s.into(),
            destination: d.into(),
            protocol: "HTTPS".into(),
            port: Some(443),
            label: String::new(),
            origin: Origin::Stacks,
            evidence: Evidence::new("f", "t"),
        }
    }

    fn dep(v: &str) -> Dependency {
        Dependency {
            component: "api".into(),
            service: ".NET".into(),
            version: Some(v.into()),
            comment: String::new(),
            evidence: None,
            also: Vec::new(),
        }
    }

    #[test]
    fn a_new_flow_and_a_version_change_show_up_and_nothing_else() {
        let a = Dossier {
            flows: vec![flow("spa", "api")],
            dependencies: vec![dep("8.0")],
            ..Default::default()
        };
        let mut b = a.clone();
        b.flows.push(flow("api", "mail"));
        b.dependencies[0].version = Some("9.0".into());
        let d = diff(&a, &b);
        assert_eq!(d.flows_added, vec!["api -> mail (HTTPS 443)"]);
        assert_eq!(
            d.versions_changed,
            vec![(
                "api / .NET".to_string(),
                "8.0".to_string(),
                "9.0".to_string()
            )]
        );
        assert!(d.flows_removed.is_empty() && d.components_added.is_empty());
        let text = render(&d, Lang::En);
        assert!(
            text.contains("+ flow: api -> mail")
                && text.contains("~ version: api / .NET: 8.0 -> 9.0"),
            "{text}"
        );
        assert!(diff(&a, &a).is_empty());
    }
}
