//! Notifications end to end: the local host and the real handler process post to a loopback webhook (127.0.0.1;
//! Slack and Teams cannot be reached here, the webhook stands for their contract: any 2xx is delivered). For one
//! succeeding run (with a retried step) and one failing run, with every message delivered twice, the webhook gets
//! started, retry, succeeded/failed, and the expiry warning exactly once per environment and expiry.

use crate::helpers::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// `environment -> kinds received`, in order.
fn kinds(bodies: &Bodies) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for b in bodies.lock().unwrap().iter() {
        m.entry(b["environment"].as_str().unwrap().to_string())
            .or_default()
            .push(b["kind"].as_str().unwrap().to_string());
    }
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_hears_start_retry_outcome_and_one_expiry_warning_for_a_succeeding_and_a_failing_run(
) {
    let (url, bodies) = webhook().await;
    let steps = [
        // Fails once, then passes: one retry notification, then success.
        sh_step("flaky", &[], "if [ -f \"$TMP/$NIGHTSHIFT_ENVIRONMENT.ok\" ]; then echo fine; else touch \"$TMP/$NIGHTSHIFT_ENVIRONMENT.ok\"; exit 1; fi"),
        // Fails for good on pr-2 only, printing a secret-looking line the card must redact.
        sh_step("check", &["flaky"], "echo 'password=hunter2 in the log'; echo '{\"web\":\"http://127.0.0.1:9/app\",\"size\":3}' > \"$NIGHTSHIFT_OUTPUTS_FILE\"; [ \"$NIGHTSHIFT_ENVIRONMENT\" != pr-2 ]"),
    ]
    .concat();
    // warn_before longer than the lifetime: the first sweeper pass after the runs warns.
    let catalog = shell_catalog(&steps).replace(
        "pr: { kind: pull-request, lifetime: 7d }",
        "pr: { kind: pull-request, lifetime: 7d, warn_before: 8d }",
    );
    let mut opts = Options::new(catalog);
    opts.deliver_twice = true;
    opts.settings.insert(
        "NIGHTSHIFT_NOTIFY_WEBHOOKS".into(),
        "generic:test-hook-url".into(),
    );
    opts.settings.insert(
        "NIGHTSHIFT_PUBLIC_URL".into(),
        "http://127.0.0.1:7071".into(),
    );
    let app = spawn_app(opts).await;
    let vault = app.stack.app.settings.key_vault_dir();
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(vault.join("test-hook-url"), &url).unwrap();

    for env in ["pr-1", "pr-2"] {
        let release = format!(
            r#"{{"schema":"nightshift.release/v1","product":"demo","environment":"{env}","version":"1.0.0","requested_by":"e2e"}}"#
        );
        app.send_release(&release, &format!("release-{env}"));
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let k = kinds(&bodies);
        let done = |env: &str, last: &str| k.get(env).is_some_and(|v| v.iter().any(|x| x == last));
        if done("pr-1", "run-succeeded") && done("pr-2", "run-failed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no outcome notifications: {k:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..2 {
        let record = app
            .stack
            .host
            .invoke_timer("expiry-sweeper")
            .await
            .expect("the sweeper fires");
        assert!(record.succeeded, "{record:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let k = kinds(&bodies);
    let count = |env: &str, kind: &str| k[env].iter().filter(|x| *x == kind).count();
    assert_eq!(count("pr-1", "run-started"), 1, "{k:#?}");
    assert_eq!(count("pr-1", "step-retrying"), 1, "{k:#?}");
    assert_eq!(count("pr-1", "run-succeeded"), 1, "{k:#?}");
    assert_eq!(count("pr-1", "run-failed"), 0, "{k:#?}");
    assert_eq!(count("pr-2", "run-started"), 1, "{k:#?}");
    assert!(count("pr-2", "step-retrying") >= 1, "{k:#?}");
    assert_eq!(count("pr-2", "step-failed"), 1, "{k:#?}");
    assert_eq!(count("pr-2", "run-failed"), 1, "{k:#?}");
    for env in ["pr-1", "pr-2"] {
        assert_eq!(
            count(env, "expiry-warning"),
            1,
            "exactly once per expiry: {k:#?}"
        );
    }

    let all = bodies.lock().unwrap().clone();
    let failed = all.iter().find(|b| b["kind"] == "run-failed").unwrap();
    assert_eq!(failed["details"]["step"], "check", "{failed}");
    let tail = failed["details"]["log_tail"].to_string();
    assert!(
        tail.contains("password=***") && !tail.contains("hunter2"),
        "redacted log tail: {tail}"
    );
    assert!(failed["details"]["next"]
        .as_str()
        .is_some_and(|n| !n.is_empty()));
    // A success links the environment's URLs (outputs that are URLs) and the run's status, with the expiry.
    let ok = all.iter().find(|b| b["kind"] == "run-succeeded").unwrap();
    assert_eq!(
        ok["details"]["urls"],
        serde_json::json!({"web": "http://127.0.0.1:9/app"}),
        "{ok}"
    );
    assert!(
        ok["details"]["status_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:7071/api/status/runs/demo.pr-1."),
        "{ok}"
    );
    assert!(
        ok["details"]["expires_at"].is_string() && ok["details"]["version"] == "1.0.0",
        "{ok}"
    );
    let warning = all.iter().find(|b| b["kind"] == "expiry-warning").unwrap();
    assert!(
        warning["details"]["next"]
            .as_str()
            .unwrap()
            .contains("nightshift extend demo"),
        "{warning}"
    );

    // Every delivery is recorded with its delay.
    let records = app.stack.app.deliveries().await.unwrap();
    assert_eq!(records.len(), all.len());
    assert!(
        records
            .iter()
            .all(|r| r.outcome == "delivered" && r.delay_ms.is_some_and(|d| d >= 0)),
        "{records:#?}"
    );
    app.shutdown().await;
}

/// A webhook that is down never holds up or fails a run: the run succeeds, and each delivery waits for its retry.
#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_that_is_down_never_fails_a_run_and_its_deliveries_wait_for_a_retry() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let mut opts = Options::new(shell_catalog(&sh_step("app", &[], "echo up")));
    opts.settings.insert(
        "NIGHTSHIFT_NOTIFY_WEBHOOKS".into(),
        "slack:test-hook-url".into(),
    );
    let app = spawn_app(opts).await;
    let vault = app.stack.app.settings.key_vault_dir();
    std::fs::create_dir_all(&vault).unwrap();
    std::fs::write(vault.join("test-hook-url"), &url).unwrap();
    let release = r#"{"schema":"nightshift.release/v1","product":"demo","environment":"pr-3","version":"1.0.0","requested_by":"e2e"}"#;
    app.send_release(release, "release-pr-3");
    let run = app.finished_run(Duration::from_secs(120)).await;
    assert_eq!(
        run.status,
        nightshift_core::run::RunStatus::Succeeded,
        "{:?}",
        run.reason
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let records = loop {
        let r = app.stack.app.deliveries().await.unwrap();
        if r.iter().any(|d| d.kind == "run-succeeded") {
            break r;
        }
        assert!(Instant::now() < deadline, "no delivery record: {r:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        records
            .iter()
            .all(|d| d.outcome == "pending" && d.attempts == 1 && d.error.is_some()),
        "{records:#?}"
    );
    assert!(
        records
            .iter()
            .all(|d| !d.error.as_deref().unwrap().contains(&url)),
        "the webhook URL is a secret"
    );
    app.shutdown().await;
}
