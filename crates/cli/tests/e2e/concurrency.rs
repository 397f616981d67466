//! Bounded concurrency through the real local host and real runner processes (issue 9, item 3): the catalog's
//! `max_parallel` within a run, `NIGHTSHIFT_MAX_JOBS` across runs. Order, not time, is asserted: each job's runner
//! reports when it started and finished working, and under a cap of one no two of those spans overlap.

use crate::helpers::*;
use chrono::{DateTime, Utc};
use nightshift_core::run::{Run, RunStatus};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Three independent steps that each take a moment.
fn three_independent(defaults: &str) -> String {
    shell_catalog(
        &[
            sh_step("x", &[], "sleep 0.3; echo x"),
            sh_step("y", &[], "sleep 0.3; echo y"),
            sh_step("z", &[], "sleep 0.3; echo z"),
        ]
        .concat(),
    )
    .replace("defaults: { retries: 2, backoff: 1s }", defaults)
}

fn release(env: &str) -> String {
    format!(
        r#"{{"schema":"nightshift.release/v1","product":"demo","environment":"{env}","version":"1.0.0","requested_by":"ci"}}"#
    )
}

async fn finished_runs(app: &TestApp, n: usize) -> Vec<Run> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let runs = app.runs().await;
        if runs.len() == n && runs.iter().all(|r| r.status.is_finished()) {
            return runs;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}",
            runs.iter().map(|r| (&r.id, r.status)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The working span of every step of `runs`, as its runner reported it, in start order.
async fn spans(app: &TestApp, runs: &[Run]) -> Vec<(DateTime<Utc>, DateTime<Utc>, String)> {
    let mut out = Vec::new();
    for r in runs {
        for (name, s) in &r.steps {
            let result = app
                .stack
                .app
                .repo
                .result(&r.id, name, s.attempt)
                .await
                .unwrap()
                .expect("every step reported");
            out.push((
                result.started_at,
                result.finished_at,
                format!("{}/{name}", r.id),
            ));
        }
    }
    out.sort();
    out
}

fn assert_one_at_a_time(spans: &[(DateTime<Utc>, DateTime<Utc>, String)]) {
    for w in spans.windows(2) {
        assert!(
            w[1].0 >= w[0].1,
            "{} started before {} finished: {spans:?}",
            w[1].2,
            w[0].2
        );
    }
}

fn each_job_once(app: &TestApp, jobs: usize) {
    let starts = app.runner_starts();
    assert_eq!(starts.len(), jobs, "{starts:?}");
    assert!(starts.values().all(|n| *n == 1), "{starts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_with_max_parallel_1_runs_its_independent_steps_one_at_a_time_and_finishes() {
    let app = spawn_app(Options::new(three_independent(
        "defaults: { retries: 2, backoff: 1s, max_parallel: 1 }",
    )))
    .await;
    app.send_release(&release("pr-1"), "rel-1");

    let runs = finished_runs(&app, 1).await;

    assert_eq!(runs[0].status, RunStatus::Succeeded);
    assert_one_at_a_time(&spans(&app, &runs).await);
    each_job_once(&app, 3);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_nightshift_max_jobs_1_two_runs_share_one_job_at_a_time_and_both_finish() {
    let mut opts = Options::new(three_independent("defaults: { retries: 2, backoff: 1s }"));
    opts.settings = BTreeMap::from([("NIGHTSHIFT_MAX_JOBS".to_string(), "1".to_string())]);
    let app = spawn_app(opts).await;
    app.send_release(&release("pr-1"), "rel-1");
    app.send_release(&release("pr-2"), "rel-2");

    let runs = finished_runs(&app, 2).await;

    assert!(runs.iter().all(|r| r.status == RunStatus::Succeeded));
    assert_one_at_a_time(&spans(&app, &runs).await);
    each_job_once(&app, 6);
    // A slot is given back just after its result is applied, so after the run reads finished: wait for it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = app.stack.app.repo.store().list("job-slots/").await.unwrap();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "every slot given back: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.shutdown().await;
}
