//! The architecture diagram in Mermaid's C4Container notation (the template's own), from the same graph as the flow
//! matrix: every component is a node, every flow a `Rel`.

use super::{Boundary, Dossier, Lang, Shape};
use std::fmt::Write as _;

/// A Mermaid alias: letters, digits and `_` only.
pub fn alias(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'c');
    }
    s
}

/// A quoted Mermaid string: double quotes cannot be escaped there, so they become single ones.
fn q(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "'").replace('\n', " "))
}

pub fn render(d: &Dossier, lang: Lang) -> String {
    let mut out = String::from("C4Container\n");
    let env = d
        .environment
        .as_ref()
        .map(|e| format!(" ({})", e.name))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "    title {} {}{env}",
        lang.t("Architecture du SI de", "Architecture of"),
        d.product
    );
    for c in d
        .components
        .iter()
        .filter(|c| c.boundary == Boundary::Outside)
    {
        let f = match c.shape {
            Shape::Person => "Person",
            Shape::Database => "SystemDb_Ext",
            _ => "System_Ext",
        };
        let _ = writeln!(
            out,
            "    {f}({}, {}, {})",
            alias(&c.id),
            q(d.name_in(&c.id, lang)),
            q(&c.description)
        );
    }
    for (boundary, id, title) in [
        (
            Boundary::Environment,
            "environment",
            format!(
                "{} {}{env}",
                lang.t("Environnement", "Environment"),
                d.product
            ),
        ),
        (Boundary::Nightshift, "nightshift", "nightshift".to_string()),
    ] {
        let members: Vec<_> = d
            .components
            .iter()
            .filter(|c| c.boundary == boundary)
            .collect();
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(out, "    Container_Boundary(b_{id}, {}) {{", q(&title));
        for c in members {
            let f = match c.shape {
                Shape::Database => "ContainerDb",
                _ => "Container",
            };
            let _ = writeln!(
                out,
                "        {f}({}, {}, {}, {})",
                alias(&c.id),
                q(&c.name),
                q(&c.technology),
                q(&c.description)
            );
        }
        out.push_str("    }\n");
    }
    for f in &d.flows {
        let proto = match f.port {
            Some(p) => format!("{} {p}", f.protocol),
            None => f.protocol.clone(),
        };
        let _ = writeln!(
            out,
            "    Rel({}, {}, {}, {})",
            alias(&f.source),
            alias(&f.destination),
            q(&proto),
            q(&f.label)
        );
    }
    out
}
