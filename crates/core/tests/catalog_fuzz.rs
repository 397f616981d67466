//! The catalog under hostile input: duplicate keys (issue 8, defect 5), arbitrary text, and mutations of the
//! real `catalog/*.yaml` files, each accepted mutation checked against what an accepted catalog guarantees.
//! `NIGHTSHIFT_FUZZ_CASES` sets the number of cases of each harness.

mod fuzz;

use fuzz::Outcome;
use nightshift_core::catalog::{self, Action, Catalog, EnvironmentKind};
use nightshift_core::names::MAX_DURATION_SECS;
use proptest::prelude::*;
use serde_yaml::Value;
use std::path::Path;

const DEMO: &str = r#"schema: nightshift.catalog/v1
product: shop
platform: local
defaults:
  retries: 2
  backoff: 1s
steps:
  foundation:
    terraform:
      stack: tf/foundation
  dns:
    needs: [foundation]
    terraform:
      stack: tf/dns
  smoke:
    needs: [dns]
    smoke:
      command: [python3, smoke.py]
      env:
        TARGET: x
environments:
  pr:
    kind: pull-request
  main:
    kind: persistent
"#;

fn parse(text: &str) -> Result<Catalog, catalog::CatalogError> {
    Catalog::parse_files(&[("catalog/shop.yaml".into(), text.into())])
}

#[test]
fn the_demo_catalog_of_these_tests_is_valid() {
    parse(DEMO).unwrap();
}

#[test]
fn a_second_step_of_the_same_name_is_refused_naming_both_lines() {
    // Issue 8: a second `dns:` replaced the Terraform step with a no-op.
    let text = DEMO.replace(
        "environments:",
        "  dns:\n    smoke:\n      command: [\"true\"]\nenvironments:",
    );
    let e = parse(&text).unwrap_err();
    assert_eq!(e.field, "steps.dns");
    assert!(e.message.contains("lines 11 and 21"), "{e}");
}

#[test]
fn a_second_environment_of_the_same_name_is_refused_naming_both_lines() {
    // Issue 8: a second `main: {kind: pull-request}` made the persistent `main` sweepable.
    let e = parse(&format!("{DEMO}  main: {{kind: pull-request}}\n")).unwrap_err();
    assert_eq!(e.field, "environments.main");
    assert!(e.message.contains("lines 24 and 26"), "{e}");
}

#[test]
fn a_repeated_top_level_key_is_refused_naming_both_lines() {
    let e =
        parse(&DEMO.replace("platform: local\n", "platform: local\nproduct: other\n")).unwrap_err();
    assert_eq!(e.field, "product");
    assert!(e.message.contains("lines 2 and 4"), "{e}");
}

#[test]
fn repeated_keys_inside_a_step_or_an_environment_are_refused() {
    for (from, to, field) in [
        (
            "      stack: tf/dns\n",
            "      stack: tf/dns\n      stack: tf/other\n",
            "steps.dns.terraform.stack",
        ),
        (
            "    needs: [dns]\n",
            "    needs: [dns]\n    needs: [foundation]\n",
            "steps.smoke.needs",
        ),
        (
            "        TARGET: x\n",
            "        TARGET: x\n        TARGET: y\n",
            "steps.smoke.smoke.env.TARGET",
        ),
        (
            "    kind: persistent\n",
            "    kind: persistent\n    kind: pull-request\n",
            "environments.main.kind",
        ),
        (
            "  backoff: 1s\n",
            "  backoff: 1s\n  \"backoff\": 9s\n",
            "defaults.backoff",
        ),
    ] {
        let e = parse(&DEMO.replace(from, to)).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.message.contains("given twice"), "{e}");
    }
}

#[test]
fn an_action_key_without_a_value_is_refused_instead_of_read_as_absent() {
    // Found by the mutation harness: `ansible:` with nothing after it, next to `terraform:`, was accepted as a
    // Terraform step.
    let e = parse(&DEMO.replace("  dns:\n", "  dns:\n    ansible:\n")).unwrap_err();
    assert_eq!(e.field, "steps.dns.ansible");
    assert!(e.message.contains("no value"), "{e}");
}

#[test]
fn yaml_with_several_documents_or_broken_syntax_is_refused() {
    assert!(parse(&format!("{DEMO}---\n{DEMO}")).is_err());
    assert!(parse("steps: {a: [1, 2}\n").is_err());
}

/// The real catalog files, `(file name, text)`.
fn real_catalogs() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("catalog/ exists")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .map(|e| {
            (
                format!("catalog/{}", e.file_name().to_string_lossy()),
                std::fs::read_to_string(e.path()).expect("readable"),
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[test]
fn the_real_catalogs_are_valid() {
    for (name, text) in real_catalogs() {
        Catalog::parse_files(&[(name.clone(), text)]).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// What must hold of any catalog the parser accepts, checked against the text through a second reading
/// (serde_yaml's own `Value`, which refuses duplicate keys): `None` when all holds, else what does not.
fn broken_invariant(text: &str, c: &Catalog) -> Option<String> {
    let value: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Some(format!(
                "accepted text that serde_yaml's Value refuses: {e}"
            ))
        }
    };
    let p = c.products.values().next()?;
    let steps = value.get("steps").and_then(Value::as_mapping)?;
    if steps.len() != p.steps.len() {
        return Some(format!(
            "{} steps in the text, {} accepted",
            steps.len(),
            p.steps.len()
        ));
    }
    for (name, def) in steps {
        let name = name.as_str()?;
        let Some(step) = p.steps.values().find(|s| s.name.as_str() == name) else {
            return Some(format!("step {name} in the text is missing"));
        };
        let kinds: Vec<&str> = ["terraform", "ansible", "smoke"]
            .into_iter()
            .filter(|k| def.get(*k).is_some())
            .collect();
        if kinds != [step.action.kind()] {
            return Some(format!(
                "step {name}: text says {kinds:?}, accepted {}",
                step.action.kind()
            ));
        }
        for secs in [step.backoff_secs, step.timeout_secs, step.estimate_secs] {
            if secs == 0 || secs > MAX_DURATION_SECS {
                return Some(format!("step {name}: duration of {secs}s accepted"));
            }
        }
        if step.retries > 10
            || step
                .needs
                .iter()
                .any(|n| !p.steps.contains_key(n) || n == &step.name)
        {
            return Some(format!("step {name}: retries or needs out of bounds"));
        }
        if let Action::Smoke { command, .. } = &step.action {
            if command.is_empty() {
                return Some(format!("step {name}: empty command accepted"));
            }
        }
    }
    if catalog::find_cycle(&p.steps).is_some() {
        return Some("a dependency cycle was accepted".into());
    }
    let envs = value.get("environments").and_then(Value::as_mapping)?;
    if envs.len() != p.environments.len() {
        return Some(format!(
            "{} environments in the text, {} accepted",
            envs.len(),
            p.environments.len()
        ));
    }
    for (name, def) in envs {
        let name = name.as_str()?;
        let Some(env) = p.environments.values().find(|e| e.name.as_str() == name) else {
            return Some(format!("environment {name} in the text is missing"));
        };
        if def.get("kind").and_then(Value::as_str) != Some(env.kind.as_str()) {
            return Some(format!("environment {name}: kind differs from the text"));
        }
        let persistent = env.kind == EnvironmentKind::Persistent;
        if persistent && (env.lifetime.is_some() || env.max_lifetime.is_some()) {
            return Some(format!("persistent environment {name} has a lifetime"));
        }
        if let (Some(l), Some(m)) = (env.lifetime, env.max_lifetime) {
            if l > m {
                return Some(format!("environment {name}: lifetime above max_lifetime"));
            }
        }
        if (env.kind == EnvironmentKind::Nightly) != env.schedule.is_some() {
            return Some(format!(
                "environment {name}: schedule does not match the kind"
            ));
        }
        if let Some(s) = &env.schedule {
            if s.catch_up_secs == 0 || s.catch_up_secs > MAX_DURATION_SECS || s.days.is_empty() {
                return Some(format!("environment {name}: schedule out of bounds"));
            }
        }
    }
    None
}

/// One edit of a catalog's text, at positions drawn as fractions of its length.
#[derive(Debug, Clone)]
enum Mutation {
    DuplicateLine(f64),
    CopyLine(f64, f64),
    DeleteLine(f64),
    SwapLines(f64, f64),
    Indent(f64, bool),
    ReplaceValue(f64, String),
    InsertText(f64, String),
    CapitalizeWord(f64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let pos = 0.0..1.0f64;
    let noise = prop_oneof![
        fuzz::duration_text(),
        prop::sample::select(vec![
            "persistent",
            "Persistent",
            "pull-request",
            "nightly",
            "[]",
            "{}",
            "~",
            "null",
            "-1",
            "11",
            "\"\"",
            "&a x",
            "*a",
            "!!binary aGk=",
            "[foundation, foundation]",
            "\"${nope.x}\"",
            "02:60",
            "Mars/Olympus",
            "[sat, sun, funday]",
            "99999999d",
        ])
        .prop_map(str::to_string),
        ".{0,8}",
    ];
    prop_oneof![
        3 => pos.clone().prop_map(Mutation::DuplicateLine),
        2 => (pos.clone(), pos.clone()).prop_map(|(a, b)| Mutation::CopyLine(a, b)),
        2 => pos.clone().prop_map(Mutation::DeleteLine),
        1 => (pos.clone(), pos.clone()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (pos.clone(), any::<bool>()).prop_map(|(a, more)| Mutation::Indent(a, more)),
        4 => (pos.clone(), noise.clone()).prop_map(|(a, n)| Mutation::ReplaceValue(a, n)),
        1 => (pos.clone(), noise).prop_map(|(a, n)| Mutation::InsertText(a, n)),
        1 => pos.prop_map(Mutation::CapitalizeWord),
    ]
}

fn at(len: usize, f: f64) -> usize {
    ((len as f64 * f) as usize).min(len.saturating_sub(1))
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len();
    match m {
        Mutation::DuplicateLine(a) => {
            let i = at(n, *a);
            lines.insert(i + 1, lines[i].clone());
        }
        Mutation::CopyLine(a, b) => {
            let line = lines[at(n, *a)].clone();
            lines.insert(at(n, *b), line);
        }
        Mutation::DeleteLine(a) => {
            lines.remove(at(n, *a));
        }
        Mutation::SwapLines(a, b) => lines.swap(at(n, *a), at(n, *b)),
        Mutation::Indent(a, more) => {
            let i = at(n, *a);
            lines[i] = if *more {
                format!("  {}", lines[i])
            } else {
                lines[i].trim_start_matches(' ').to_string()
            };
        }
        Mutation::ReplaceValue(a, v) => {
            let i = at(n, *a);
            if let Some((k, _)) = lines[i].split_once(": ") {
                lines[i] = format!("{k}: {v}");
            }
        }
        Mutation::InsertText(a, v) => {
            let mut s = lines.join("\n");
            let mut i = at(s.len(), *a);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            s.insert_str(i, v);
            return s;
        }
        Mutation::CapitalizeWord(a) => {
            let i = at(n, *a);
            lines[i] = lines[i]
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or_default()
                })
                .collect::<Vec<String>>()
                .join(" ");
        }
    }
    lines.join("\n") + "\n"
}

#[test]
fn mutations_of_the_real_catalogs_are_refused_or_accepted_with_every_invariant() {
    let files = real_catalogs();
    let count = files.len();
    let strategy = (0..count, prop::collection::vec(mutation(), 1..4));
    fuzz::run("catalog mutations", 1500, strategy, |(file, edits)| {
        let (name, text) = &files[*file];
        let mutated = edits.iter().fold(text.clone(), |t, m| apply(&t, m));
        match Catalog::parse_files(&[(name.clone(), mutated.clone())]) {
            Err(e) if e.to_string().is_empty() => Outcome::Wrong("refused without a reason".into()),
            Err(_) => Outcome::Refused,
            Ok(c) => match broken_invariant(&mutated, &c) {
                None => Outcome::Accepted,
                Some(why) => Outcome::Wrong(why),
            },
        }
    });
}

#[test]
fn arbitrary_text_never_panics_the_catalog_parser() {
    let text = prop_oneof![
        ".{0,200}",
        prop::collection::vec(
            prop_oneof![
                Just("steps:".to_string()),
                Just("  a:".to_string()),
                Just("    smoke: {command: [x]}".to_string()),
                Just("environments: {e: {kind: persistent}}".to_string()),
                Just("schema: nightshift.catalog/v1".to_string()),
                Just("product: shop".to_string()),
                Just("  - &x [*x]".to_string()),
                Just("? [a, b]".to_string()),
                Just(": c".to_string()),
                Just("---".to_string()),
                "[ -~]{0,30}",
            ],
            0..12
        )
        .prop_map(|l| l.join("\n")),
    ];
    fuzz::run("catalog text", 1500, text, |t| match parse(t) {
        Ok(c) => match broken_invariant(t, &c) {
            None => Outcome::Accepted,
            Some(why) => Outcome::Wrong(why),
        },
        Err(_) => Outcome::Refused,
    });
}

#[test]
fn template_strings_never_panic_and_a_string_without_references_renders_to_itself() {
    use nightshift_core::template::{self, Context};
    let text = prop::collection::vec(
        prop_oneof![
            Just("${".to_string()),
            Just("$${".to_string()),
            Just("}".to_string()),
            Just("$".to_string()),
            Just(".".to_string()),
            prop::sample::select(vec![
                "env", "vars", "name", "db", "out_put", "run", "id", "é", " "
            ])
            .prop_map(str::to_string),
            ".{0,4}",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat());
    fuzz::run("templates", 2000, text, |s| {
        let refs = template::references(s);
        let rendered = template::render_text(s, &Context::default());
        match refs {
            Ok(r) if r.is_empty() && !s.contains('$') => match rendered {
                Ok(out) if out == *s => Outcome::Accepted,
                other => Outcome::Wrong(format!("plain text rendered as {other:?}")),
            },
            Ok(_) => Outcome::Accepted,
            Err(_) => Outcome::Refused,
        }
    });
}
