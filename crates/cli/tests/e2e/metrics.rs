//! `nightshift metrics` over a journal built by running the local service (no hand-written fixture): a release that
//! fails, the next one that succeeds after a check that failed once and passed on retry; then the figures, the
//! events the portal reads in the host log, the handler's stderr holding errors only, and `health`.

use crate::helpers::*;
use chrono::{DateTime, Utc};
use nightshift_core::run::{Run, RunStatus};
use nightshift_local::host::STDERR_MARK;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

/// `build` fails while `$TMP/broken` exists (no retry); `check` fails its very first attempt, then passes: a false
/// positive, since its retry runs the same version with the same inputs.
fn catalog() -> String {
    shell_catalog(
        r#"  build:
    retries: 0
    smoke:
      command: [sh, -c, "test ! -e $TMP/broken"]
  check:
    needs: [build]
    retries: 1
    smoke:
      command: [sh, -c, "if [ -e $TMP/flaked ]; then exit 0; fi; touch $TMP/flaked; exit 1"]
"#,
    )
}

fn release(version: &str, extra: &str) -> String {
    format!(
        r#"{{"schema":"nightshift.release/v1","product":"demo","environment":"main","version":"{version}","requested_by":"release-pipeline"{extra}}}"#
    )
}

async fn send_and_wait(app: &TestApp, body: &str, id: &str, finished: usize) -> Vec<Run> {
    app.send_release(body, id);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let runs = app.runs().await;
        if runs.len() == finished && runs.iter().all(|r| r.status.is_finished()) {
            return runs;
        }
        assert!(Instant::now() < deadline, "runs did not finish: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn metrics(state: &std::path::Path, args: &[&str]) -> Value {
    let out = Command::new(nightshift_bin())
        .args(["metrics", "--json"])
        .args(args)
        .arg("--state-dir")
        .arg(state)
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints only JSON")
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

fn close(actual: &Value, expected: f64) {
    let a = actual
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {actual}"));
    assert!((a - expected).abs() < 0.01, "{a} != {expected}");
}

/// The notifier's delivery records: their keys, the delays of those delivered, and whether any is pending.
async fn notification_records(app: &TestApp) -> (Vec<String>, Vec<f64>, bool) {
    let repo = &app.stack.app.repo;
    let records = repo.store().list("notifications/").await.unwrap();
    let mut delays = Vec::new();
    let mut pending = false;
    for key in &records {
        let v = repo.get_json::<Value>(key).await.unwrap().unwrap().0;
        pending |= v["outcome"] == "pending";
        delays.extend(v["delay_ms"].as_f64().map(|ms| ms / 1000.0));
    }
    (records, delays, pending)
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_over_a_failed_then_recovered_environment_give_the_rates_durations_recovery_and_false_positives(
) {
    // A loopback webhook (127.0.0.1 only), so deliveries are recorded with their delay.
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", hook.local_addr().unwrap());
    let router = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(hook, router).await.unwrap() });
    let mut opts = Options::new(catalog());
    opts.settings.insert(
        "NIGHTSHIFT_NOTIFY_WEBHOOKS".into(),
        "generic:test-hook-url".into(),
    );
    let app = spawn_app(opts).await;
    let vault = app.stack.app.settings.key_vault_dir();
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(vault.join("test-hook-url"), &url).unwrap();
    let state = app.stack.app.settings.state_dir.clone();
    let tmp = state.parent().unwrap().to_path_buf();

    // A broken build: the run fails.
    std::fs::write(tmp.join("broken"), "").unwrap();
    let runs = send_and_wait(&app, &release("1.0.0", ""), "main-1-0-0", 1).await;
    assert_eq!(runs[0].status, RunStatus::Failed, "{:?}", runs[0].reason);
    // Fixed, and the release says when its commit was made: the check fails once, then passes.
    std::fs::remove_file(tmp.join("broken")).unwrap();
    let commit = Utc::now() - chrono::Duration::hours(2);
    let commit_field = format!(r#","commit_time":"{}""#, commit.to_rfc3339());
    let runs = send_and_wait(&app, &release("1.0.1", &commit_field), "main-1-0-1", 2).await;
    let failed = runs.iter().find(|r| r.status == RunStatus::Failed).unwrap();
    let ok = runs
        .iter()
        .find(|r| r.status == RunStatus::Succeeded)
        .unwrap();
    // A message that can never succeed, for the portal's rejected-messages tile.
    app.send_release(r#"{"schema":"nightshift.release/v1"}"#, "bad-1");

    // Every delivery record the notifier wrote is read; the delivered ones give the delay. Wait until none is
    // pending (deliveries are asynchronous to the run), and until the metrics were computed over that same set of
    // records: a run's bookkeeping may still write one after the run is seen finished.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (records, delays, m) = loop {
        let (records, delays, pending) = notification_records(&app).await;
        let m = metrics(&state, &[]);
        let (after, _, _) = notification_records(&app).await;
        if (!pending && after == records) || Instant::now() > deadline {
            break (records, delays, m);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert_eq!(m["deployments"], 2, "{m:#}");
    assert_eq!(
        (m["succeeded"].clone(), m["failed"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(m["in_progress"], 0);
    close(&m["success_rate"], 0.5);
    assert_eq!(m["deployment_duration"]["count"], 2);
    assert_eq!(m["time_to_ready"]["count"], 1);
    close(
        &m["time_to_ready"]["p50_secs"],
        secs(ok.created_at, ok.finished_at.unwrap()),
    );
    assert_eq!(m["recovery"]["recovered"], 1);
    assert_eq!(m["recovery"]["unrecovered"], 0);
    close(
        &m["recovery"]["time"]["p50_secs"],
        secs(failed.finished_at.unwrap(), ok.finished_at.unwrap()),
    );
    // build ran twice (one real failure), check once (failed, then passed on retry: a false positive).
    assert_eq!(m["checks"]["runs"], 3, "{m:#}");
    assert_eq!(m["checks"]["failed"], 2);
    assert_eq!(m["checks"]["false_positives"], 1);
    close(&m["checks"]["false_positive_rate"], 0.5);
    assert_eq!(m["change_lead_time"]["count"], 1);
    let lead = secs(commit, ok.finished_at.unwrap());
    let got = m["change_lead_time"]["p50_secs"].as_f64().unwrap();
    assert!(
        (got - lead).abs() < 1.0,
        "{got} vs {lead}: RFC 3339 keeps whole seconds here"
    );
    assert_eq!(m["rollbacks"]["count"], 0);
    assert!(!delays.is_empty(), "the webhook received deliveries");
    assert_eq!(m["notifications"]["records"], records.len(), "{m:#}");
    assert_eq!(m["notifications"]["delay"]["count"], delays.len());
    let max = delays.iter().cloned().fold(0.0, f64::max);
    let p90 = m["notifications"]["delay"]["p90_secs"].as_f64().unwrap();
    let p50 = m["notifications"]["delay"]["p50_secs"].as_f64().unwrap();
    assert!(p50 <= p90 && p90 <= max && delays.contains(&p50), "{m:#}");
    assert_eq!(
        m["actions"],
        serde_json::json!({ "deploy": 2 }),
        "the two releases, counted from the action journal"
    );
    let summary = Command::new(nightshift_bin())
        .args(["metrics", "--state-dir"])
        .arg(&state)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&summary.stdout);
    assert!(summary.contains("Success rate         50%"), "{summary}");
    assert!(
        summary.contains("1 passed on retry: false-positive rate 50%"),
        "{summary}"
    );
    // The filters.
    assert_eq!(
        metrics(&state, &["--environment", "pr-1"])["deployments"],
        0
    );
    assert_eq!(metrics(&state, &["--product", "other"])["deployments"], 0);
    assert_eq!(
        metrics(&state, &["--product", "demo", "--since", "1d"])["deployments"],
        2
    );

    // The host log: the events the portal's tiles read, on stdout; the handler's stderr holds errors only.
    let deadline = Instant::now() + Duration::from_secs(30);
    let log = loop {
        let log = std::fs::read_to_string(state.join("logs/host.log")).unwrap();
        if log.contains("nightshift.message.rejected") || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let events: Vec<Value> = log
        .lines()
        .filter_map(|l| l.strip_prefix("nightshift-event "))
        .map(|j| serde_json::from_str(j).unwrap())
        .collect();
    let of = |name: &str| -> Vec<&Value> { events.iter().filter(|e| e["event"] == name).collect() };
    let finished = of("nightshift.run.finished");
    assert_eq!(finished.len(), 2, "{log}");
    for e in &finished {
        for field in [
            "duration_ms",
            "building_ms",
            "outcome",
            "rollback",
            "trigger",
        ] {
            assert!(!e[field].is_null(), "run.finished lacks {field}: {e}");
        }
    }
    let recovered = finished
        .iter()
        .find(|e| e["outcome"] == "succeeded")
        .unwrap();
    assert!(recovered["lead_time_ms"].as_i64().unwrap() >= 2 * 3600 * 1000 - 1000);
    let checks: Vec<_> = of("nightshift.step.finished")
        .into_iter()
        .filter(|e| e["step"] == "check")
        .collect();
    assert_eq!(checks.len(), 2, "{log}");
    assert!(checks.iter().all(|e| e["kind"] == "smoke"));
    assert_eq!(of("nightshift.message.rejected").len(), 1, "{log}");
    for line in log.lines().filter(|l| l.starts_with(STDERR_MARK)) {
        assert!(
            line.contains("ERROR") || line.contains("invocation failed"),
            "the handler wrote a non-error on stderr (the Functions host would record it as an error): {line}"
        );
    }
    assert!(
        log.lines()
            .any(|l| l.contains("INFO") && !l.starts_with(STDERR_MARK)),
        "the handler's information lines are on stdout"
    );

    // health: 200, then 503 while the store cannot be read, then 200 again.
    let health = || app.stack.host.invoke_http("health", "GET", "health", &[]);
    assert_eq!(health().await.unwrap().status, 200);
    let store = app.stack.app.settings.store_dir();
    let aside = store.with_extension("aside");
    std::fs::rename(&store, &aside).unwrap();
    std::fs::write(&store, "not a directory").unwrap();
    let down = health().await.unwrap();
    std::fs::remove_file(&store).unwrap();
    std::fs::rename(&aside, &store).unwrap();
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.body.contains("store"), "{}", down.body);
    assert_eq!(health().await.unwrap().status, 200);
    app.shutdown().await;
}

#[test]
fn metrics_with_a_period_that_is_not_one_exits_2_and_says_how_to_write_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(nightshift_bin())
        .args(["metrics", "--since", "a-month", "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--since") && err.contains("3d"), "{err}");
}

#[test]
fn metrics_over_an_empty_journal_say_there_is_nothing_yet_and_how_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(nightshift_bin())
        .args(["metrics", "--state-dir"])
        .arg(dir.path())
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("No runs in this period"), "{text}");
    assert!(text.contains("nightshift up"), "{text}");
}
