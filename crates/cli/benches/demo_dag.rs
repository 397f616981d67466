//! Runs the demo product's DAG (catalog/orthense-demo.yaml) end to end on the embedded default, several times,
//! and reports:
//! - wall time / critical path: the run's wall time divided by the longest dependency chain of the steps' own
//!   working times (the ideal is 1.00; a sequential pipeline would take the sum of all steps / critical path);
//! - orchestration overhead per step transition: from the moment a step's last dependency finished its work (the
//!   runner's own timestamp) to the moment the step's runner started working: the result message, the
//!   `step-events` invocation, the output binding, the `step-dispatch` invocation, the job start. p50 and p99.
//!
//! `cargo bench -p nightshift --bench demo_dag [-- ITERATIONS]`. Prints a table and, last, one JSON line.

use chrono::{DateTime, Utc};
use nightshift::local_stack::{LocalStack, StackOptions};
use nightshift_app::Settings;
use nightshift_core::messages::StepEventMessage;
use nightshift_core::planner::critical_path;
use nightshift_local::host::HandlerCommand;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

struct Sample {
    wall: f64,
    critical: f64,
    sequential: f64,
    transitions: Vec<f64>,
}

async fn one_run(root: &Path, bin: &str) -> Sample {
    let dir = tempfile::tempdir().unwrap();
    let mut env: BTreeMap<&str, String> = BTreeMap::new();
    env.insert(
        "NIGHTSHIFT_STATE_DIR",
        dir.path().join("state").display().to_string(),
    );
    env.insert(
        "NIGHTSHIFT_CATALOG",
        dir.path().join("catalog").display().to_string(),
    );
    env.insert("NIGHTSHIFT_REPO_ROOT", root.display().to_string());
    env.insert("NIGHTSHIFT_RUNNER", format!("{bin} runner"));
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::fs::copy(
        root.join("catalog/orthense-demo.yaml"),
        dir.path().join("catalog/orthense-demo.yaml"),
    )
    .unwrap();
    let settings = Settings::from_lookup(|k| env.get(k).cloned().or_else(|| std::env::var(k).ok()))
        .unwrap()
        .absolutize();
    let opts = StackOptions {
        handler: Some(HandlerCommand::new(bin, ["handler"])),
        run_timers: false,
        ..StackOptions::default()
    };
    let stack = LocalStack::start(settings, opts)
        .await
        .expect("local stack");
    let fired = stack.host.invoke_timer("nightly-scheduler").await.unwrap();
    assert!(fired.succeeded, "{fired:?}");
    let deadline = Instant::now() + Duration::from_secs(300);
    let run = loop {
        let runs = stack.app.repo.runs().await.unwrap();
        if let Some(r) = runs.into_iter().find(|r| r.status.is_finished()) {
            break r;
        }
        assert!(Instant::now() < deadline, "the run did not finish");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        run.status,
        nightshift_core::run::RunStatus::Succeeded,
        "{:?}",
        run.reason
    );

    // The runners' own timestamps of each step's successful attempt.
    let mut work: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for (name, s) in &run.steps {
        let r: StepEventMessage = stack
            .app
            .repo
            .result(&run.id, name, s.attempt)
            .await
            .unwrap()
            .expect("a stored result");
        work.insert(name.to_string(), (r.started_at, r.finished_at));
    }
    let secs =
        |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_microseconds().unwrap() as f64 / 1e6;
    let defs: indexmap::IndexMap<_, _> = run
        .steps
        .iter()
        .map(|(k, s)| (k.clone(), s.def.clone()))
        .collect();
    let (_, critical) = critical_path(&defs, |n| {
        let (a, b) = work[n.as_str()];
        secs(a, b)
    });
    let sequential: f64 = work.values().map(|(a, b)| secs(*a, *b)).sum();
    let mut transitions = Vec::new();
    for (name, s) in &run.steps {
        if let Some(ready_at) = s.def.needs.iter().map(|d| work[d.as_str()].1).max() {
            transitions.push(secs(ready_at, work[name.as_str()].0));
        }
    }
    // Wall time: from the first runner starting work to the last finishing, plus the run's start (the timer to
    // the first job) and end (the last result to the run recorded as finished).
    let wall = secs(run.created_at, run.finished_at.unwrap());
    stack.shutdown().await;
    Sample {
        wall,
        critical,
        sequential,
        transitions,
    }
}

fn main() {
    let iterations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let bin = env!("CARGO_BIN_EXE_nightshift").to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Warm-up: installs ansible-core if needed, fills the page cache; not counted.
    rt.block_on(one_run(&root, &bin));
    let mut samples = Vec::new();
    for i in 0..iterations {
        let s = rt.block_on(one_run(&root, &bin));
        println!(
            "run {}: wall {:.2}s, critical path {:.2}s, ratio {:.3}, sequential/critical {:.2}, transitions p50 {:.1}ms",
            i + 1,
            s.wall,
            s.critical,
            s.wall / s.critical,
            s.sequential / s.critical,
            {
                let mut t = s.transitions.clone();
                t.sort_by(f64::total_cmp);
                percentile(&t, 50.0) * 1000.0
            }
        );
        samples.push(s);
    }
    let mut ratios: Vec<f64> = samples.iter().map(|s| s.wall / s.critical).collect();
    ratios.sort_by(f64::total_cmp);
    let mut seq: Vec<f64> = samples.iter().map(|s| s.sequential / s.critical).collect();
    seq.sort_by(f64::total_cmp);
    let mut all: Vec<f64> = samples
        .iter()
        .flat_map(|s| s.transitions.iter().copied())
        .collect();
    all.sort_by(f64::total_cmp);
    let median_ratio = percentile(&ratios, 50.0);
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!("| runs | {iterations} (after one warm-up) |");
    println!(
        "| wall time / critical path (median; min-max) | {median_ratio:.3} ({:.3}-{:.3}) |",
        ratios[0],
        ratios[ratios.len() - 1]
    );
    println!(
        "| sequential pipeline / critical path (median) | {:.2} |",
        percentile(&seq, 50.0)
    );
    println!(
        "| wall time (median) | {:.2}s |",
        percentile(
            &{
                let mut w: Vec<f64> = samples.iter().map(|s| s.wall).collect();
                w.sort_by(f64::total_cmp);
                w
            },
            50.0
        )
    );
    println!(
        "| orchestration overhead per transition, p50 | {:.1} ms |",
        percentile(&all, 50.0) * 1000.0
    );
    println!(
        "| orchestration overhead per transition, p99 | {:.1} ms |",
        percentile(&all, 99.0) * 1000.0
    );
    println!("| transitions measured | {} |", all.len());
    println!(
        "{}",
        serde_json::json!({
            "iterations": iterations,
            "ratio_median": median_ratio,
            "ratio_max": ratios[ratios.len() - 1],
            "sequential_over_critical": percentile(&seq, 50.0),
            "overhead_p50_ms": percentile(&all, 50.0) * 1000.0,
            "overhead_p99_ms": percentile(&all, 99.0) * 1000.0,
        })
    );
}
