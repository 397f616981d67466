//! The catalog's `dossier:` section: what the technical dossier cannot derive from the stacks.
//!
//! Code tells which app receives which connection string; it cannot tell that a backend calls an external API, sends
//! mail over SMTP or signs users in against an OpenID provider. A product declares those here: external components
//! (`components`) and the edges the stacks cannot show (`flows`). Every edge must name a known component: one declared
//! here, a step of the product (`api-medical`), an instance of a step (`spas.pro`), or one of the dossier's built-in
//! components ([`BUILTIN_COMPONENTS`]). An unknown name is an error naming the file, the line and the field.

use super::CatalogError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Components every dossier has: the people using the product, and nightshift's own parts.
pub const BUILTIN_COMPONENTS: &[&str] = &["users", "nightshift.jobs"];

/// The shape a declared component takes in the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeclaredKind {
    /// A system outside the product (an API, a mail relay, an identity provider).
    External,
    /// People.
    Person,
    /// A part of the product the stacks do not create.
    Container,
    /// A database the stacks do not create.
    Database,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredComponent {
    pub name: String,
    #[serde(default = "default_kind")]
    pub kind: DeclaredKind,
    #[serde(default)]
    pub description: String,
    /// Its public URL (external systems), shown in the flow matrix's last column.
    #[serde(default)]
    pub url: Option<String>,
    /// Where it runs, e.g. "Union européenne - Twilio SendGrid".
    #[serde(default)]
    pub location: Option<String>,
    /// A version people pin by hand (an external API's version), for the dependency inventory.
    #[serde(default)]
    pub version: Option<String>,
}

fn default_kind() -> DeclaredKind {
    DeclaredKind::External
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredFlow {
    pub from: String,
    pub to: String,
    pub protocol: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub description: String,
    /// The line of the catalog file the flow starts on (1-based), for messages and the dossier's sources.
    #[serde(skip)]
    pub line: usize,
}

/// The project card of the dossier's first lines, where the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectCard {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub hosting: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annotations {
    #[serde(default)]
    pub project: ProjectCard,
    #[serde(default)]
    pub components: BTreeMap<String, DeclaredComponent>,
    #[serde(default)]
    pub flows: Vec<DeclaredFlow>,
}

/// Parses and checks the `dossier:` value of a product file. `steps` are the product's step names.
pub(crate) fn parse(
    file: &str,
    text: &str,
    value: Option<serde_yaml::Value>,
    steps: &[&str],
) -> Result<Annotations, CatalogError> {
    let Some(value) = value else {
        return Ok(Annotations::default());
    };
    let err = |line: Option<usize>, field: String, message: String| CatalogError {
        file: match line {
            Some(l) => format!("{file}:{l}"),
            None => file.to_string(),
        },
        field,
        message,
    };
    let mut ann: Annotations = serde_yaml::from_value(value).map_err(|e| {
        err(
            section_line(text),
            "dossier".into(),
            format!("{e}; the format is in docs/dossier.md"),
        )
    })?;
    for id in ann.components.keys() {
        if !is_component_id(id) {
            return Err(err(
                find_key_line(text, id),
                format!("dossier.components.{id}"),
                "use lowercase letters, digits and '-', starting with a letter, e.g. sendgrid"
                    .into(),
            ));
        }
        if steps.contains(&id.as_str()) || BUILTIN_COMPONENTS.contains(&id.as_str()) {
            return Err(err(
                find_key_line(text, id),
                format!("dossier.components.{id}"),
                format!("{id:?} is already a step or a built-in component: pick another name"),
            ));
        }
    }
    let item_lines = flow_item_lines(text);
    for (i, flow) in ann.flows.iter_mut().enumerate() {
        flow.line = item_lines.get(i).copied().unwrap_or(0);
        for (field, id) in [("from", &flow.from), ("to", &flow.to)] {
            if !is_known(id, &ann.components, steps) {
                let mut known: Vec<String> = ann.components.keys().cloned().collect();
                known.extend(steps.iter().map(|s| s.to_string()));
                known.extend(BUILTIN_COMPONENTS.iter().map(|s| s.to_string()));
                return Err(err(
                    line_of_field(text, flow.line, field),
                    format!("dossier.flows[{i}].{field}"),
                    format!(
                        "unknown component {id:?}: declare it under dossier.components or name a step, \
                         <step>.<instance> or a built-in component (known: {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        if flow.protocol.trim().is_empty() {
            return Err(err(
                Some(flow.line),
                format!("dossier.flows[{i}].protocol"),
                "give the protocol, e.g. HTTPS or SMTP".into(),
            ));
        }
    }
    Ok(ann)
}

fn is_component_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_known(id: &str, declared: &BTreeMap<String, DeclaredComponent>, steps: &[&str]) -> bool {
    if declared.contains_key(id) || steps.contains(&id) || BUILTIN_COMPONENTS.contains(&id) {
        return true;
    }
    // An instance of a step's component (the stacks tell which instances exist; `nightshift validate` checks them).
    id.split_once('.')
        .is_some_and(|(step, inst)| steps.contains(&step) && !inst.is_empty())
}

/// The 1-based line of the top-level `dossier:` key.
fn section_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.starts_with("dossier:"))
        .map(|i| i + 1)
}

/// The first line after `dossier:` whose key is `key`.
fn find_key_line(text: &str, key: &str) -> Option<usize> {
    let start = section_line(text)?;
    text.lines()
        .enumerate()
        .skip(start)
        .find(|(_, l)| l.trim_start().starts_with(&format!("{key}:")))
        .map(|(i, _)| i + 1)
}

/// The 1-based lines where the items of `dossier.flows` start.
fn flow_item_lines(text: &str) -> Vec<usize> {
    let Some(start) = section_line(text) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let Some(flows) = (start..lines.len()).find(|&i| lines[i].trim_start().starts_with("flows:"))
    else {
        return Vec::new();
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let base = indent(lines[flows]);
    let mut items = Vec::new();
    let mut item_indent = None;
    for (i, l) in lines.iter().enumerate().skip(flows + 1) {
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if indent(l) < base || (indent(l) == base && !t.starts_with('-')) {
            break;
        }
        if t.starts_with('-') && (item_indent.is_none() || item_indent == Some(indent(l))) {
            item_indent = Some(indent(l));
            items.push(i + 1);
        }
    }
    items
}

/// The line of `field:` inside the flow item starting at `item_line`, or the item's line.
fn line_of_field(text: &str, item_line: usize, field: &str) -> Option<usize> {
    if item_line == 0 {
        return section_line(text);
    }
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate().skip(item_line - 1).take(8) {
        if i > item_line - 1 && l.trim_start().starts_with('-') {
            break;
        }
        let t = l.trim_start().trim_start_matches('-').trim_start();
        if t.starts_with(&format!("{field}:")) || l.contains(&format!(" {field}:")) {
            return Some(i + 1);
        }
    }
    Some(item_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "schema: x\nsteps: {}\ndossier:\n  components:\n    sendgrid:\n      name: SendGrid\n  flows:\n    - from: api\n      to: sendgrid\n      protocol: HTTPS\n      port: 443\n    - { from: api, to: smtp-relay, protocol: SMTP, port: 587 }\n";

    fn value(text: &str) -> Option<serde_yaml::Value> {
        let v: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
        v.get("dossier").cloned()
    }

    #[test]
    fn a_flow_to_an_undeclared_component_names_the_file_line_and_field() {
        let e = parse("catalog/p.yaml", TEXT, value(TEXT), &["api"]).unwrap_err();
        assert_eq!(e.file, "catalog/p.yaml:12");
        assert_eq!(e.field, "dossier.flows[1].to");
        assert!(e.message.contains("\"smtp-relay\""), "{e}");
    }

    #[test]
    fn flows_between_steps_instances_and_declared_components_are_accepted_with_their_lines() {
        let text = TEXT.replace("smtp-relay", "api.pro");
        let ann = parse("p.yaml", &text, value(&text), &["api"]).unwrap();
        assert_eq!(ann.flows.len(), 2);
        assert_eq!((ann.flows[0].line, ann.flows[1].line), (8, 12));
        assert_eq!(ann.components["sendgrid"].kind, DeclaredKind::External);
    }

    #[test]
    fn a_declared_component_may_not_shadow_a_step() {
        let text = TEXT.replace("    sendgrid:", "    api:");
        let e = parse("p.yaml", &text, value(&text), &["api"]).unwrap_err();
        assert_eq!(e.field, "dossier.components.api");
        assert_eq!(e.file, "p.yaml:5");
    }

    #[test]
    fn an_unknown_field_in_a_flow_is_refused() {
        let text = TEXT.replace("port: 443", "prot: 443");
        let e = parse("p.yaml", &text, value(&text), &["api"]).unwrap_err();
        assert!(e.message.contains("prot"), "{e}");
    }
}
