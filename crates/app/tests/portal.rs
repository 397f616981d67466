//! The portal works: every workbook query (and the failed-runs alert's) parses in the real Kusto parser against the Application Insights tables,
//! every event it reads has a call site that emits it, and host.json never samples those events away.
//!
//! The parser is `kql-check` from the shared tools (`../shared/tools/kql/kql-check` from the repository root; it
//! needs node and a one-time npm install of `@kusto/language-service-next`, see its README). `NIGHTSHIFT_KQL_CHECK`
//! points at another copy; `NIGHTSHIFT_SKIP_KQL_CHECK=1` skips the parse where node is not available (say so in
//! the review: the other checks still run).

use serde_json::Value;
use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const WORKBOOK: &str = "terraform/orchestrator/workbooks/nightshift.workbook.json.tftpl";
/// The failed-runs alert's query (main.monitoring.tf reads it with `file()`).
const ALERT_QUERY: &str = "terraform/orchestrator/workbooks/failed-runs.alert.kql";

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every query in the workbook, steps and parameters alike: (item name, query).
fn workbook_queries() -> Vec<(String, String)> {
    let wb: Value = serde_json::from_str(&read(WORKBOOK)).expect("the workbook is JSON");
    let mut out = Vec::new();
    for item in wb["items"].as_array().expect("items") {
        let content = &item["content"];
        if let Some(q) = content["query"].as_str() {
            out.push((
                item["name"].as_str().unwrap_or("?").to_string(),
                q.to_string(),
            ));
        }
        for p in content["parameters"].as_array().into_iter().flatten() {
            if let Some(q) = p["query"].as_str() {
                out.push((format!("parameter {}", p["name"]), q.to_string()));
            }
        }
    }
    assert!(out.len() > 5, "the workbook's queries were not found");
    out.push(("failed-runs alert".into(), read(ALERT_QUERY)));
    out
}

/// Workbook parameters outside string literals are not KQL: give the parser what the portal substitutes.
fn substitute_parameters(query: &str) -> String {
    query.replace("{TimeRange}", "ago(14d)")
}

fn kql_check() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("NIGHTSHIFT_KQL_CHECK") {
        return Some(PathBuf::from(p));
    }
    let shared = Path::new(ROOT).join("../shared/tools/kql/kql-check");
    shared.is_file().then_some(shared)
}

#[test]
fn every_workbook_query_parses_without_errors_in_the_real_kusto_parser() {
    if std::env::var("NIGHTSHIFT_SKIP_KQL_CHECK").as_deref() == Ok("1") {
        eprintln!("NIGHTSHIFT_SKIP_KQL_CHECK=1: the workbook's queries were not parsed");
        return;
    }
    let tool = kql_check().unwrap_or_else(|| {
        panic!(
            "kql-check not found at {ROOT}/../shared/tools/kql/kql-check: put the shared tools beside the repository \
             (or set NIGHTSHIFT_KQL_CHECK to the script), or set NIGHTSHIFT_SKIP_KQL_CHECK=1 to skip this check"
        )
    });
    let queries: Vec<Value> = workbook_queries()
        .into_iter()
        .map(|(name, q)| serde_json::json!({"name": name, "query": substitute_parameters(&q)}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queries.json");
    std::fs::write(&file, serde_json::to_vec(&queries).unwrap()).unwrap();
    let out = std::process::Command::new(&tool)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running {}: {e} (it needs bash, node and npm)",
                tool.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kql-check found errors (or could not run: {}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{} queries, 0 errors", queries.len())),
        "{stdout}"
    );
}

/// The `nightshift.*` event names a query compares with.
fn queried_events() -> Vec<String> {
    let mut names: Vec<String> = workbook_queries()
        .iter()
        .flat_map(|(_, q)| {
            q.match_indices("'nightshift.")
                .map(|(i, _)| {
                    let rest = &q[i + 1..];
                    rest[..rest.find('\'').unwrap()].to_string()
                })
                .collect::<Vec<_>>()
        })
        .filter(|n: &String| n.matches('.').count() == 2)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The Rust sources under crates/app/src that the handler runs, as one text.
fn app_sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("telemetry.rs") {
                out.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut s = String::new();
    walk(&Path::new(ROOT).join("crates/app/src"), &mut s);
    s
}

#[test]
fn every_event_a_workbook_query_reads_is_declared_and_has_a_call_site_that_emits_it() {
    use nightshift_app::telemetry;
    let sources: String = app_sources().split_whitespace().collect();
    let constants = [
        ("RUN_FINISHED", telemetry::RUN_FINISHED),
        ("STEP_FINISHED", telemetry::STEP_FINISHED),
        ("MESSAGE_REJECTED", telemetry::MESSAGE_REJECTED),
        ("ENVIRONMENT_DELETED", telemetry::ENVIRONMENT_DELETED),
        ("NOTIFICATION_FINISHED", telemetry::NOTIFICATION_FINISHED),
    ];
    assert_eq!(constants.len(), telemetry::EVENTS.len());
    let queried = queried_events();
    assert!(queried.len() >= 3, "{queried:?}");
    for name in &queried {
        let (constant, _) = constants
            .iter()
            .find(|(_, n)| n == name)
            .unwrap_or_else(|| panic!("the workbook queries {name}, which nothing emits"));
        assert!(
            sources.contains(&format!("telemetry::emit(telemetry::{constant},")),
            "{name} ({constant}) is declared but no use case emits it"
        );
    }
}

#[test]
fn every_delivery_metric_of_the_issue_has_a_tile_that_reads_an_emitted_event() {
    // Issue 12, item 5: (metric, tile, event it reads, the column or field that shows the figure).
    let metrics = [
        (
            "deployments",
            "delivery-summary",
            "nightshift.run.finished",
            "deployments = count()",
        ),
        (
            "success rate",
            "delivery-summary",
            "nightshift.run.finished",
            "success_rate_pct",
        ),
        (
            "deployment duration p50/p90",
            "delivery-summary",
            "nightshift.run.finished",
            "building_p90",
        ),
        (
            "time to ready",
            "delivery-summary",
            "nightshift.run.finished",
            "ready_p90",
        ),
        (
            "recovery time",
            "recovery-time",
            "nightshift.run.finished",
            "p90 = round(percentile(minutes, 90)",
        ),
        (
            "rollbacks",
            "rollbacks",
            "nightshift.run.finished",
            "e.rollback",
        ),
        (
            "notification delay p50/p90",
            "notification-delay",
            "nightshift.notification.finished",
            "delay_p90_s = round(percentile(delay_s, 90)",
        ),
        (
            "notification delay p50",
            "notification-delay",
            "nightshift.notification.finished",
            "delay_p50_s = round(percentile(delay_s, 50)",
        ),
        (
            "false-positive rate",
            "check-false-positives",
            "nightshift.step.finished",
            "false_positive_rate_pct",
        ),
    ];
    let queries = workbook_queries();
    for (metric, tile, event, figure) in metrics {
        let (_, q) = queries
            .iter()
            .find(|(name, _)| name == tile)
            .unwrap_or_else(|| panic!("no workbook tile {tile} for {metric}"));
        assert!(
            q.contains(&format!("tostring(e.event) == '{event}'")),
            "the {tile} tile ({metric}) does not read {event}"
        );
        assert!(
            q.contains(figure),
            "the {tile} tile does not show {metric} ({figure})"
        );
        assert!(
            nightshift_app::telemetry::EVENTS.contains(&event),
            "{event} ({metric}) is not an event the handler emits"
        );
    }
    // Per channel: the delay's tile groups by the delivery's channel.
    let (_, delay) = queries
        .iter()
        .find(|(n, _)| n == "notification-delay")
        .unwrap();
    assert!(delay.contains("by channel"), "{delay}");
}

#[test]
fn host_json_keeps_traces_out_of_sampling_so_no_nightshift_event_is_dropped() {
    // The handler's events are traces (its stdout lines); sampled traces would make the workbook's counts wrong.
    let host: Value = serde_json::from_str(&read("host.json")).unwrap();
    let sampling = &host["logging"]["applicationInsights"]["samplingSettings"];
    let excluded: Vec<&str> = sampling["excludedTypes"]
        .as_str()
        .unwrap_or("")
        .split(';')
        .map(str::trim)
        .collect();
    let sampled = sampling["isEnabled"].as_bool().unwrap_or(true);
    assert!(
        !sampled || excluded.contains(&"Trace"),
        "sampling is on and traces are not excluded: {sampling}"
    );
    let included = sampling["includedTypes"].as_str().unwrap_or("");
    assert!(
        !included.split(';').any(|t| t.trim() == "Trace"),
        "includedTypes overrides excludedTypes for Trace: {sampling}"
    );
}

#[test]
fn terraform_readme_describes_only_events_the_handler_emits() {
    let readme = read("terraform/README.md");
    for word in readme.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_')) {
        let word = word.trim_end_matches('.');
        if word.starts_with("nightshift.")
            && word.matches('.').count() == 2
            && !word.ends_with("json")
        {
            assert!(
                nightshift_app::telemetry::EVENTS.contains(&word),
                "terraform/README.md describes {word}, which nothing emits"
            );
        }
    }
}
