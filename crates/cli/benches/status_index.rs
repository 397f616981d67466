//! `status` with a long history (issue 9, item 2): a state directory with RUNS finished runs (default 2,000) over
//! 40 pull-request environments, built through release intake and step events like the handler builds them, then:
//! - `nightshift status --json` as a person runs it (a process: start-up, settings, the index page, the JSON), p50
//!   and max over 20 calls;
//! - the status use case in process, from the indexes (p50), beside the same page computed the way status did
//!   before the indexes (every run document read and summarized), for comparison;
//! - `environments --json` as a process;
//! - the handler (`nightshift handler`, the custom-handler process) after 100 HTTP `status` invocations: its resident
//!   memory (VmRSS) and peak (VmHWM), and the invocation time p50;
//! - building the indexes once for the same history written before they existed (the migration), and a
//!   retention pass that compacts every run but each environment's last ones, with the metrics before and after.
//!
//! `cargo bench -p nightshift --bench status_index [-- RUNS]`. Prints a table and, last, one JSON line.

use chrono::Utc;
use nightshift_app::usecases::status::{summarize, StatusQuery};
use nightshift_app::{App, Settings};
use nightshift_core::messages::{StepEventMessage, StepOutcome, STEP_EVENT_SCHEMA};
use nightshift_core::metrics::Filter;
use nightshift_core::run::StepStatus;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ENVIRONMENTS: usize = 40;
const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  app: { smoke: { command: [true] } }
  check: { needs: [app], smoke: { command: [true] } }
environments:
  pr: { kind: pull-request }
"#;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn settings_env(dir: &Path) -> BTreeMap<String, String> {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(dir.join("catalog/shop.yaml"), CATALOG).unwrap();
    [
        ("NIGHTSHIFT_STATE_DIR", dir.join("state")),
        ("NIGHTSHIFT_CATALOG", dir.join("catalog")),
        ("NIGHTSHIFT_REPO_ROOT", dir.to_path_buf()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.display().to_string()))
    .chain([
        ("NIGHTSHIFT_RUNNER".to_string(), "true".to_string()),
        ("NIGHTSHIFT_LOG".to_string(), "error".to_string()),
    ])
    .collect()
}

/// Releases and finishes `runs` runs, one environment after another; every tenth fails its check.
async fn history(app: &App, runs: usize) {
    for i in 0..runs {
        let env = format!("pr-{}", i % ENVIRONMENTS + 1);
        let body = format!(
            r#"{{"schema":"nightshift.release/v1","product":"shop","environment":"{env}","version":"1.0.{i}","requested_by":"ci"}}"#
        );
        app.release(&body, &format!("m-{i}")).await.unwrap();
        // The run the release created: the newest of its environment's index.
        let index = app
            .repo
            .environment_index("shop", &env)
            .await
            .unwrap()
            .unwrap();
        let id = index.recent[0].id.clone();
        loop {
            let run = app.repo.run(&id).await.unwrap().unwrap();
            if run.status.is_finished() {
                break;
            }
            for (step, s) in run
                .steps
                .iter()
                .filter(|(_, s)| s.status == StepStatus::Queued)
            {
                let fail = i % 10 == 9 && step.as_str() == "check";
                let event = StepEventMessage {
                    schema: STEP_EVENT_SCHEMA.into(),
                    run_id: id.clone(),
                    step: step.clone(),
                    attempt: s.attempt,
                    outcome: if fail {
                        StepOutcome::Failed
                    } else {
                        StepOutcome::Succeeded
                    },
                    exit_code: Some(i32::from(fail)),
                    reason: fail.then(|| "smoke check failed".to_string()),
                    permanent: fail,
                    outputs: BTreeMap::from([(
                        "url".to_string(),
                        serde_json::json!(format!("https://{step}.{env}.example.test")),
                    )]),
                    started_at: Utc::now(),
                    finished_at: Utc::now(),
                    log: None,
                };
                app.step_event(&serde_json::to_string(&event).unwrap(), &event.message_id())
                    .await
                    .unwrap();
            }
        }
    }
}

/// CPU time (user + system) of the children waited for so far: robust to other processes sharing the cores.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn cli(bin: &str, env: &BTreeMap<String, String>, args: &[&str]) -> (Duration, usize) {
    cli_cpu(bin, env, args).0
}

/// Wall time and output size of one CLI process, and its CPU time.
fn cli_cpu(
    bin: &str,
    env: &BTreeMap<String, String>,
    args: &[&str],
) -> ((Duration, usize), Duration) {
    let cpu = children_cpu();
    let t = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env_remove("NIGHTSHIFT_MODE")
        .envs(env)
        .output()
        .unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    ((took, out.stdout.len()), children_cpu() - cpu)
}

/// One HTTP/1.1 request on loopback; the response's status code and body length.
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, usize) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out.len())
}

fn proc_kib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let bin = env!("CARGO_BIN_EXE_nightshift").to_string();
    let dir = tempfile::tempdir().unwrap();
    let env = settings_env(dir.path());
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    let app = App::new(nightshift_app::wiring::local(&settings), settings);
    let rt = tokio::runtime::Runtime::new().unwrap();

    let t = Instant::now();
    rt.block_on(history(&app, runs));
    let generated_s = t.elapsed().as_secs_f64();
    let store = app.repo.store().clone();
    let documents = rt.block_on(store.list("runs/")).unwrap().len();
    assert!(documents >= runs, "{documents} run documents");

    // The status use case in process: from the indexes, and as it was (every run read).
    // The first reader of a state directory marks it indexed (its runs were indexed as they were written).
    rt.block_on(app.ensure_index()).unwrap();
    let mut indexed = Vec::new();
    let mut page_bytes = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let report = rt
            .block_on(app.status_page(&StatusQuery::default()))
            .unwrap();
        page_bytes = serde_json::to_vec(&report).unwrap().len();
        indexed.push(ms(t.elapsed()));
    }
    let mut full = Vec::new();
    let mut full_bytes = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let all = rt.block_on(app.repo.runs()).unwrap();
        let now = Utc::now();
        let summaries: Vec<_> = all.iter().map(|r| summarize(r, now)).collect();
        full_bytes = serde_json::to_vec(&summaries).unwrap().len();
        full.push(ms(t.elapsed()));
    }

    // As a person runs it: processes.
    let mut cli_status = Vec::new();
    let mut cli_bytes = 0;
    let mut cli_cpu_ms = Vec::new();
    for _ in 0..20 {
        let ((d, n), cpu) = cli_cpu(&bin, &env, &["status", "--json"]);
        cli_status.push(ms(d));
        cli_cpu_ms.push(ms(cpu));
        cli_bytes = n;
    }
    let mut cli_envs = Vec::new();
    for _ in 0..5 {
        cli_envs.push(ms(cli(&bin, &env, &["environments", "--json"]).0));
    }

    // The handler after 100 HTTP status invocations.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut handler = Command::new(&bin)
        .arg("handler")
        .env_remove("NIGHTSHIFT_MODE")
        .envs(&env)
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the handler did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let request = std::fs::read_to_string(root.join("handlers/tests/data/status.json")).unwrap();
    let rss_start = proc_kib(handler.id(), "VmRSS:");
    let mut calls = Vec::new();
    let mut answer_bytes = 0;
    for _ in 0..100 {
        let t = Instant::now();
        let (code, n) = http(port, "POST", "/status", &request);
        calls.push(ms(t.elapsed()));
        assert_eq!(code, 200);
        answer_bytes = n;
    }
    let rss = proc_kib(handler.id(), "VmRSS:") / 1024.0;
    let hwm = proc_kib(handler.id(), "VmHWM:") / 1024.0;
    handler.kill().unwrap();
    handler.wait().unwrap();

    // The same history as a state directory from before the indexes: built once by the first reader.
    let index_keys = rt.block_on(store.list("index/")).unwrap();
    for k in &index_keys {
        rt.block_on(store.delete(k)).unwrap();
    }
    let t = Instant::now();
    let built = rt.block_on(app.ensure_index()).unwrap().expect("built");
    let migration_s = t.elapsed().as_secs_f64();
    assert_eq!(built.runs, documents);

    // Retention far in the future: every run but each environment's last ones compacted; metrics unchanged.
    let metrics_before = rt.block_on(app.metrics(&Filter::default())).unwrap();
    let later = Utc::now() + chrono::Duration::days(365);
    let mut compacted = 0;
    let t = Instant::now();
    loop {
        let report = rt.block_on(app.retention(later)).unwrap();
        if report.compacted.is_empty() {
            break;
        }
        compacted += report.compacted.len();
    }
    let retention_s = t.elapsed().as_secs_f64();
    let metrics_after = rt.block_on(app.metrics(&Filter::default())).unwrap();
    // Every figure but the two that move with the clock (when it was generated, and deployments per day, whose
    // window ends now).
    let same = {
        let strip = |m: &nightshift_core::metrics::MetricsReport| {
            let mut v = serde_json::to_value(m).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("generated_at");
            o.remove("deployments_per_day");
            v
        };
        let (a, b) = (strip(&metrics_before), strip(&metrics_after));
        if a != b {
            eprintln!("metrics differ:\n{a:#}\n{b:#}");
        }
        a == b
    };
    let left = rt.block_on(store.list("runs/")).unwrap().len();
    let mut after_retention = Vec::new();
    for _ in 0..10 {
        after_retention.push(ms(cli(&bin, &env, &["status", "--json"]).0));
    }

    let max = |v: &[f64]| v.iter().cloned().fold(f64::NAN, f64::max);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at the end (1, 5, 15 min): {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("status with {runs} runs in the store ({ENVIRONMENTS} environments; generated in {generated_s:.1} s)");
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| `nightshift status --json` (process), p50 / max of 20 | **{:.1} ms** / {:.1} ms ({} bytes) |",
        p50(cli_status.clone()),
        max(&cli_status),
        cli_bytes
    );
    println!(
        "| CPU time of that process (user + system), p50 of 20 | {:.1} ms |",
        p50(cli_cpu_ms.clone())
    );
    println!(
        "| status use case from the indexes (in process), p50 of 20 | {:.2} ms ({page_bytes} bytes, 20 runs) |",
        p50(indexed.clone())
    );
    println!(
        "| every run read and summarized, as status did before (in process), p50 of 3 | {:.1} ms ({full_bytes} bytes) |",
        p50(full.clone())
    );
    println!(
        "| `nightshift environments --json` (process), p50 of 5 | {:.1} ms |",
        p50(cli_envs.clone())
    );
    println!(
        "| handler RSS after 100 HTTP `status` calls (start {:.1} MiB) | **{rss:.1} MiB** (peak {hwm:.1} MiB) |",
        rss_start / 1024.0
    );
    println!(
        "| HTTP `status` invocation, p50 of 100 | {:.2} ms ({answer_bytes} bytes) |",
        p50(calls.clone())
    );
    println!(
        "| indexes built once for {documents} runs written before them | {migration_s:.2} s |"
    );
    println!(
        "| retention: runs compacted / documents left / time | {compacted} / {left} / {retention_s:.2} s |"
    );
    println!("| metrics identical before and after retention | {same} |");
    println!(
        "| `nightshift status --json` after retention, p50 of 10 | {:.1} ms |",
        p50(after_retention.clone())
    );
    println!(
        "{}",
        serde_json::json!({
            "runs": runs, "status_cli_p50_ms": p50(cli_status), "status_cli_cpu_p50_ms": p50(cli_cpu_ms), "status_in_process_p50_ms": p50(indexed),
            "status_read_everything_p50_ms": p50(full), "environments_cli_p50_ms": p50(cli_envs),
            "handler_rss_mib": rss, "handler_peak_mib": hwm, "http_status_p50_ms": p50(calls),
            "migration_s": migration_s, "compacted": compacted, "documents_left": left,
            "metrics_unchanged": same, "retention_s": retention_s,
        })
    );
}
