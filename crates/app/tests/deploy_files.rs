//! The deployment files agree with the code: `local.settings.json.example` against the Functions schema and the
//! settings table (docs/settings.md), the Function App's app settings in Terraform against what the code reads, and
//! the runner image's Dockerfile, linted for its structure because it cannot be built here (no Docker engine).

use nightshift_app::Settings;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/schemas/azure-functions/local.settings.json"
);

fn read(rel: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn example() -> Value {
    serde_json::from_str(&read("local.settings.json.example")).expect("valid JSON")
}

/// The `NIGHTSHIFT_*` names in the first column of the "App settings" table of docs/settings.md.
fn documented_app_settings() -> BTreeSet<String> {
    let doc = read("docs/settings.md");
    let section = doc
        .split("## App settings")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("an App settings section");
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|n| n.starts_with("NIGHTSHIFT_"))
        .map(String::from)
        .collect()
}

#[test]
fn the_local_settings_example_is_valid_for_the_functions_host() {
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(SCHEMA).expect("the shared schema")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let instance = example();

    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();

    assert!(errors.is_empty(), "{errors:#?}");
    let values = instance["Values"].as_object().unwrap();
    assert!(
        values.values().all(Value::is_string),
        "Values must be strings"
    );
    assert_eq!(instance["IsEncrypted"], false);
    assert_eq!(values["AzureWebJobsStorage"], "UseDevelopmentStorage=true");
    for timer in ["NIGHTLY_SCHEDULE", "WATCHDOG_SCHEDULE", "SWEEP_SCHEDULE"] {
        let s = values[timer].as_str().unwrap();
        assert_eq!(s.split(' ').count(), 6, "{timer}: six NCRONTAB fields");
    }
    assert!(values.contains_key("ServiceBus__fullyQualifiedNamespace"));
}

#[test]
fn the_local_settings_example_lists_every_documented_setting_and_no_secret_value() {
    let values: BTreeMap<String, String> =
        serde_json::from_value(example()["Values"].clone()).unwrap();
    let listed: BTreeSet<String> = values
        .keys()
        .filter(|k| k.starts_with("NIGHTSHIFT_"))
        .cloned()
        .collect();
    let documented = documented_app_settings();

    assert!(documented.len() > 30, "{documented:?}");
    assert_eq!(
        listed.symmetric_difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "local.settings.json.example and docs/settings.md must list the same settings"
    );
    for secret in ["NIGHTSHIFT_ARM_TOKEN", "NIGHTSHIFT_STORAGE_KEY"] {
        assert_eq!(
            values[secret], "",
            "{secret} must stay empty in the example"
        );
    }
    // And the example is a configuration the handler accepts (empty counts as unset).
    let s = Settings::from_lookup(|k| values.get(k).cloned()).expect("the example parses");
    assert!(s.azure.is_some());
}

/// `NAME = value` keys of the `function_app_settings` map in the orchestrator's Terraform.
fn terraform_app_settings() -> BTreeSet<String> {
    let tf = read("terraform/orchestrator/main.function.tf");
    let block = tf
        .split("function_app_settings = {")
        .nth(1)
        .expect("function_app_settings in main.function.tf");
    block
        .lines()
        .map(str::trim)
        .take_while(|l| *l != "}")
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .collect()
}

#[test]
fn the_function_apps_settings_in_terraform_are_the_names_the_code_reads() {
    let tf = terraform_app_settings();
    let documented = documented_app_settings();
    let unknown: Vec<&String> = tf
        .iter()
        .filter(|k| k.starts_with("NIGHTSHIFT_") && !documented.contains(*k))
        .collect();
    assert!(
        unknown.is_empty(),
        "Terraform sets settings the code does not read: {unknown:?}"
    );
    for needed in [
        "FUNCTIONS_WORKER_RUNTIME",
        "NIGHTLY_SCHEDULE",
        "WATCHDOG_SCHEDULE",
        "SWEEP_SCHEDULE",
        "ServiceBus__fullyQualifiedNamespace",
    ] {
        assert!(tf.contains(needed), "Terraform does not set {needed}");
    }
    // Every required Azure setting is there: with a placeholder for each, the settings parse.
    let placeholder = |k: &str| match k {
        "NIGHTSHIFT_MODE" => "azure".to_string(),
        "NIGHTSHIFT_INSTANCE" => "nightshift".to_string(),
        _ => "https://example.invalid".to_string(),
    };
    let s = Settings::from_lookup(|k| tf.contains(k).then(|| placeholder(k)))
        .map(|s| s.mode)
        .expect("Terraform sets every required setting");
    assert_eq!(s, nightshift_app::Mode::Azure);
}

#[test]
fn the_runner_dockerfile_is_multi_stage_pinned_static_and_runs_the_runner_as_non_root() {
    let text = read("runner/Dockerfile");
    // Logical lines: continuations joined, comments dropped.
    let joined = text.replace("\\\n", " ");
    let lines: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let args: BTreeMap<&str, &str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("ARG "))
        .filter_map(|a| a.split_once('='))
        .collect();
    let froms: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("FROM "))
        .collect();
    let is_version = |v: &str| {
        let parts: Vec<&str> = v.split('.').collect();
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok())
    };

    // Stages: a pinned Rust build on Debian, Terraform, and a slim Debian final stage.
    assert_eq!(froms.len(), 3, "{froms:?}");
    assert_eq!(froms[0], "rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build");
    assert!(
        froms[2].starts_with("debian:${DEBIAN_RELEASE}-slim AS "),
        "{froms:?}"
    );
    assert_eq!(args["DEBIAN_RELEASE"], "bookworm");
    for pinned in [
        "RUST_VERSION",
        "TERRAFORM_VERSION",
        "ANSIBLE_CORE_VERSION",
        "MONGOSH_VERSION",
    ] {
        assert!(is_version(args[pinned]), "{pinned}={}", args[pinned]);
    }
    // The ansible-core pinned here is one the runner accepts.
    let core = args["ANSIBLE_CORE_VERSION"];
    let minor = core.rsplit_once('.').unwrap().0;
    assert!(
        nightshift_app::tools::ANSIBLE_CORE_REQUIREMENT.contains(&format!(">={minor}")),
        "ansible-core {core} vs {}",
        nightshift_app::tools::ANSIBLE_CORE_REQUIREMENT
    );

    let run = lines
        .iter()
        .filter(|l| l.starts_with("RUN "))
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    assert!(run.contains(
        "cargo build --locked --release -p nightshift --target x86_64-unknown-linux-musl"
    ));
    assert!(run.contains("\"ansible-core==${ANSIBLE_CORE_VERSION}\""));
    for collection in [
        "community.general:==",
        "community.mongodb:==",
        "azure.azcollection:==",
    ] {
        assert!(run.contains(collection), "{collection} is not pinned");
    }
    assert!(run.contains("azure/azcollection/requirements.txt"));
    assert!(run.contains("pymongo==") && run.contains("pymssql=="));
    assert!(
        run.contains("sha256sum -c") && run.contains("gpg --batch --verify"),
        "Terraform is verified"
    );

    let user = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "USER {user}"
    );
    assert_eq!(
        lines.last().copied(),
        Some(r#"ENTRYPOINT ["nightshift", "runner"]"#)
    );
}

/// Every file under `dir` (recursively) whose name ends with `ext`.
fn files_under(dir: &std::path::Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path, ext));
        } else if path.to_string_lossy().ends_with(ext) {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn the_runner_image_installs_the_verified_pinned_mongosh_that_the_seed_playbooks_run() {
    // What the playbooks run: each `mongo_cmd` of a community.mongodb.mongodb_shell task, a literal or a
    // `{{ variable }}` whose value a role's defaults or vars give.
    let seeds = std::path::Path::new(ROOT).join("seeds");
    let yml: Vec<(std::path::PathBuf, String)> = files_under(&seeds, ".yml")
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    let value_of = |name: &str| -> Vec<String> {
        yml.iter()
            .flat_map(|(_, t)| t.lines())
            .filter_map(|l| l.trim().strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().trim_matches('"').to_string())
            .collect()
    };
    let mut shells = Vec::new();
    for (path, text) in &yml {
        if !text.contains("community.mongodb.mongodb_shell:") {
            continue;
        }
        let cmds: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("mongo_cmd:"))
            .map(|v| v.trim().trim_matches('"'))
            .collect();
        assert!(
            !cmds.is_empty(),
            "{}: mongodb_shell without mongo_cmd runs the collection's default, name it",
            path.display()
        );
        for cmd in cmds {
            let resolved = match cmd.strip_prefix("{{").and_then(|c| c.strip_suffix("}}")) {
                Some(var) => value_of(var.trim()),
                None => vec![cmd.to_string()],
            };
            assert!(
                !resolved.is_empty(),
                "{}: {cmd} has no value",
                path.display()
            );
            shells.extend(resolved);
        }
    }
    assert!(
        !shells.is_empty(),
        "no mongodb_shell task found under seeds/"
    );
    assert!(
        shells.iter().all(|s| s == "mongosh"),
        "the playbooks run {shells:?}; the runner image installs mongosh only"
    );

    // The image: a pinned mongosh 2.x (the `--tls` flags the collection passes for `ssl: true`), verified
    // against MongoDB's signing key pinned by fingerprint, on the runner's PATH.
    let text = read("runner/Dockerfile");
    let joined = text.replace("\\\n", " ");
    let arg = |name: &str| {
        joined
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("ARG {name}=")))
            .unwrap_or_else(|| panic!("runner/Dockerfile pins no {name}"))
            .to_string()
    };
    let version = arg("MONGOSH_VERSION");
    let major: u32 = version.split('.').next().unwrap().parse().unwrap();
    assert!(major >= 2, "mongosh {version}");
    let fingerprint = arg("MONGOSH_KEY_FINGERPRINT");
    assert!(
        fingerprint.len() == 40 && fingerprint.chars().all(|c| c.is_ascii_hexdigit()),
        "{fingerprint}"
    );
    for needed in [
        "mongosh-${MONGOSH_VERSION}-linux-x64.tgz",
        "https://pgp.mongodb.com/mongosh.asc",
        "fpr:::::::::${MONGOSH_KEY_FINGERPRINT}:",
        "gpg --batch --verify \"${archive}.sig\" \"${archive}\"",
        "./mongosh --version",
        "COPY --from=terraform /mongosh/mongosh /usr/local/bin/mongosh",
    ] {
        assert!(joined.contains(needed), "runner/Dockerfile lacks {needed}");
    }
    // The collection that turns `ssl: true` into mongosh's `--tls` (community.mongodb 1.7 and later).
    let pinned = joined
        .split("\"community.mongodb:==")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("community.mongodb is pinned");
    let minor: Vec<u32> = pinned.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(minor[..2] >= [1, 7][..], "community.mongodb {pinned}");
}

#[test]
fn every_event_the_portal_workbook_queries_is_one_the_orchestrator_emits() {
    let workbook = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../terraform/orchestrator/workbooks/nightshift.workbook.json.tftpl"
    ))
    .unwrap();
    let mut queried: Vec<&str> = workbook
        .match_indices("'nightshift.")
        .map(|(i, _)| {
            let rest = &workbook[i + 1..];
            &rest[..rest.find('\'').unwrap()]
        })
        .filter(|name| name.matches('.').count() == 2)
        .collect();
    queried.sort();
    queried.dedup();
    assert!(!queried.is_empty());
    for name in &queried {
        assert!(
            nightshift_app::telemetry::EVENTS.contains(name),
            "the workbook queries {name}, which nothing emits"
        );
    }
    assert!(
        workbook.contains("nightshift-event {"),
        "the workbook parses the lines the telemetry module writes"
    );
}
