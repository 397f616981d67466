//! At-least-once delivery, crashes, retries and rejections.

use crate::helpers::*;
use nightshift_core::run::{RunStatus, StepStatus};
use nightshift_core::StepName;
use std::time::Duration;

fn step(n: &str) -> StepName {
    StepName::parse(n).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_message_delivered_twice_gives_the_same_final_state_and_starts_each_job_once() {
    let app = spawn_app(Options {
        deliver_twice: true,
        ..Options::new(diamond())
    })
    .await;
    app.fire_nightly().await;
    let run = app.finished_run(Duration::from_secs(90)).await;

    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.reason);
    for s in run.steps.values() {
        assert_eq!(s.status, StepStatus::Succeeded);
        assert_eq!(
            s.attempts.len(),
            1,
            "step {} ran {} attempts",
            s.def.name,
            s.attempts.len()
        );
    }
    let starts = app.runner_starts();
    assert_eq!(starts.len(), 4, "one job per step: {starts:?}");
    assert!(
        starts.values().all(|n| *n == 1),
        "each job started once: {starts:?}"
    );
    let dispatches = app.stack.host.observer().of("step-dispatch");
    assert!(
        dispatches.iter().any(|i| i.delivery_count == Some(2)),
        "the host did deliver twice"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_scheduler_firings_in_the_same_night_start_one_run() {
    let app = spawn_app(Options::new(diamond())).await;
    app.fire_nightly().await;
    app.fire_nightly().await;
    let run = app.finished_run(Duration::from_secs(90)).await;
    app.fire_nightly().await;

    assert_eq!(app.runs().await.len(), 1);
    assert_eq!(run.status, RunStatus::Succeeded);
    assert!(app.runner_starts().values().all(|n| *n == 1));
    assert_eq!(app.jobs().len(), 4);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_handler_killed_mid_run_and_restarted_still_completes_the_run() {
    // b takes long enough for the handler to be killed while it runs; its result arrives while the handler is
    // down, and messages may be dead-lettered; the watchdog reconciles what was lost.
    let catalog = shell_catalog(
        &[
            sh_step("a", &[], "echo a"),
            sh_step("b", &["a"], "sleep 2; echo b"),
            sh_step("c", &["b"], "echo c"),
        ]
        .concat(),
    );
    let settings = [
        ("NIGHTSHIFT_WATCHDOG_REDISPATCH_SECS", "3"),
        ("NIGHTSHIFT_WATCHDOG_RESULT_GRACE_SECS", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let app = spawn_app(Options {
        settings,
        ..Options::new(catalog)
    })
    .await;
    app.fire_nightly().await;

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let runs = app.runs().await;
        if runs
            .first()
            .is_some_and(|r| r.steps[&step("b")].status == StepStatus::Running)
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "b never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stack.host.kill_handler().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    app.stack.host.restart_handler().await.unwrap();
    let run = app.finished_run(Duration::from_secs(90)).await;

    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.reason);
    assert!(run
        .steps
        .values()
        .all(|s| s.status == StepStatus::Succeeded));
    assert_eq!(
        run.steps[&step("b")].attempts.len(),
        1,
        "b's job was not run again"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_that_fails_twice_then_succeeds_is_retried_with_backoff() {
    let counter = "$TMP/flaky-count";
    let script = format!("n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; echo attempt $n; [ $n -ge 3 ]");
    let app = spawn_app(Options::new(shell_catalog(
        &[
            sh_step("flaky", &[], &script),
            sh_step("after", &["flaky"], "echo ok"),
        ]
        .concat(),
    )))
    .await;
    app.fire_nightly().await;
    let run = app.finished_run(Duration::from_secs(90)).await;

    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.reason);
    let flaky = &run.steps[&step("flaky")];
    assert_eq!(flaky.attempts.len(), 3);
    assert_eq!(
        flaky
            .attempts
            .iter()
            .map(|a| a.outcome.clone().unwrap())
            .collect::<Vec<_>>(),
        ["failed", "failed", "succeeded"]
    );
    // Backoff: 1s before attempt 2, 2s before attempt 3 (the catalog's 1s, doubled). Each retry waited at least
    // that long after the failure it follows.
    for (i, wait) in [(1usize, 1i64), (2, 2)] {
        let failed = flaky.attempts[i - 1].finished_at.unwrap();
        let next = flaky.attempts[i].started_at.unwrap();
        assert!(
            (next - failed).num_milliseconds() >= wait * 1000,
            "attempt {} started {}ms after the failure",
            i + 1,
            (next - failed).num_milliseconds()
        );
    }
    assert!(run.journal.iter().any(|j| j.to == "retrying"
        && j.reason
            .as_deref()
            .unwrap_or("")
            .contains("attempt 1 of 3 failed")));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_that_fails_for_good_fails_the_run_cancels_its_dependents_and_records_why() {
    let catalog = shell_catalog(
        &[
            sh_step("a", &[], "echo a"),
            sh_step(
                "broken",
                &["a"],
                "echo 'database quota exceeded' >&2; exit 3",
            ),
            sh_step("side", &["a"], "echo side"),
            sh_step("after", &["broken"], "echo never"),
            sh_step("last", &["after", "side"], "echo never"),
        ]
        .concat(),
    )
    .replace("retries: 2, backoff: 1s", "retries: 1, backoff: 1s");
    let app = spawn_app(Options::new(catalog)).await;
    app.fire_nightly().await;
    let run = app.finished_run(Duration::from_secs(90)).await;

    assert_eq!(run.status, RunStatus::Failed);
    assert!(run.reason.as_deref().unwrap().contains("broken"));
    let broken = &run.steps[&step("broken")];
    assert_eq!(broken.status, StepStatus::Failed);
    assert_eq!(broken.attempts.len(), 2);
    assert!(
        broken
            .reason
            .as_deref()
            .unwrap()
            .contains("database quota exceeded"),
        "{:?}",
        broken.reason
    );
    assert_eq!(
        run.steps[&step("side")].status,
        StepStatus::Succeeded,
        "an independent branch still ran"
    );
    for dependent in ["after", "last"] {
        let s = &run.steps[&step(dependent)];
        assert_eq!(s.status, StepStatus::Cancelled);
        assert!(
            s.reason.as_deref().unwrap().contains("dependency"),
            "{:?}",
            s.reason
        );
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_release_message_is_rejected_with_its_reason_and_not_retried() {
    let app = spawn_app(Options::new(diamond())).await;
    let releases = app.stack.host.bus().queue("releases").unwrap();
    let bad = r#"{"schema":"nightshift.release/v1","product":"demo","environment":"pr-7","version":"1.4.2","requested_by":"ci","ttl":"a week"}"#;
    releases
        .send(nightshift_local::queue::NewMessage::new(bad, "bad-ttl-1"))
        .unwrap();
    releases
        .send(nightshift_local::queue::NewMessage::new(
            "{not json",
            "not-json-1",
        ))
        .unwrap();

    let observer = app.stack.host.observer();
    assert!(
        observer
            .wait_for(Duration::from_secs(30), |inv| inv
                .iter()
                .filter(|i| i.function == "release-intake")
                .count()
                >= 2)
            .await
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let calls = observer.of("release-intake");
    assert_eq!(calls.len(), 2, "each was delivered once: {calls:?}");
    assert!(calls
        .iter()
        .all(|c| c.succeeded && c.delivery_count == Some(1)));
    assert!(releases.is_empty().unwrap());
    assert!(releases.dead_letters().unwrap().is_empty());
    let status = app.stack.app.status().await.unwrap();
    let reasons: Vec<(&str, &str)> = status
        .rejected
        .iter()
        .map(|r| (r.message_id.as_str(), r.reason.as_str()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|(id, why)| *id == "bad-ttl-1" && why.contains("ttl")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(id, why)| *id == "not-json-1" && why.contains("not JSON")),
        "{reasons:?}"
    );
    assert!(app.runs().await.is_empty());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_message_builds_a_pull_request_environment_that_expires_with_its_ttl() {
    let app = spawn_app(Options::new(diamond())).await;
    let body = r#"{"schema":"nightshift.release/v1","product":"demo","environment":"pr-123","version":"1.4.2","requested_by":"ci","ttl":"3d"}"#;
    app.stack
        .host
        .bus()
        .queue("releases")
        .unwrap()
        .send(nightshift_local::queue::NewMessage::new(body, "rel-1"))
        .unwrap();
    let run = app.finished_run(Duration::from_secs(90)).await;

    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.environment.as_str(), "pr-123");
    let ttl = run.expires_at.unwrap() - run.created_at;
    assert_eq!(ttl.num_hours(), 72);
    assert_eq!(run.tags["nightshift-kind"], "pull-request");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_killed_mid_step_is_failed_by_the_watchdog_with_its_log_and_retried() {
    // The first attempt hangs until it is killed with its whole process group (a machine lost); no result is ever
    // sent. The watchdog sees the job gone without a result and fails the attempt; the retry succeeds.
    let script = "if [ ! -f $TMP/first ]; then touch $TMP/first; echo first attempt hangs; sleep 60; fi; echo ok";
    let settings = [("NIGHTSHIFT_WATCHDOG_RESULT_GRACE_SECS", "1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let app = spawn_app(Options {
        settings,
        ..Options::new(shell_catalog(&sh_step("hang", &[], script)))
    })
    .await;
    app.fire_nightly().await;

    let jobs = app.stack.app.settings.jobs_dir();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let pid = loop {
        let log = app
            .jobs()
            .first()
            .and_then(|j| std::fs::read_to_string(jobs.join(j).join("log")).ok())
            .unwrap_or_default();
        let pid = app
            .jobs()
            .first()
            .and_then(|j| std::fs::read_to_string(jobs.join(j).join("pid")).ok());
        if let (true, Some(pid)) = (log.contains("first attempt hangs"), pid) {
            break pid.trim().parse::<i32>().unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first attempt never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // SAFETY: kill(2) of the job's own process group (the job runner starts each job in a new session).
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let run = app.finished_run(Duration::from_secs(90)).await;

    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.reason);
    let hang = &run.steps[&step("hang")];
    assert_eq!(hang.attempts.len(), 2);
    let first = hang.attempts[0].reason.clone().unwrap_or_default();
    assert!(
        first.contains("without reporting a result") && first.contains("first attempt hangs"),
        "{first}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_releases_to_one_environment_build_it_one_after_the_other() {
    let catalog = shell_catalog(
        &[
            sh_step("build", &[], "sleep 1; echo built"),
            sh_step("check", &["build"], "echo ok"),
        ]
        .concat(),
    );
    let app = spawn_app(Options::new(catalog)).await;
    let releases = app.stack.host.bus().queue("releases").unwrap();
    for (version, id) in [("1.0.0", "rel-a"), ("1.0.1", "rel-b")] {
        let body = format!(
            r#"{{"schema":"nightshift.release/v1","product":"demo","environment":"pr-9","version":"{version}","requested_by":"ci"}}"#
        );
        releases
            .send(nightshift_local::queue::NewMessage::new(body, id))
            .unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let runs = loop {
        let runs = app.runs().await;
        if runs.len() == 2 && runs.iter().all(|r| r.status.is_finished()) {
            break runs;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            runs.iter().map(|r| (&r.id, r.status)).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert!(runs.iter().all(|r| r.status == RunStatus::Succeeded));
    let (first, second) = if runs[0].journal.iter().any(|j| j.to == "waiting") {
        (&runs[1], &runs[0])
    } else {
        (&runs[0], &runs[1])
    };
    assert!(
        second
            .journal
            .iter()
            .any(|j| j.from == "waiting" && j.to == "running"),
        "the second run waited"
    );
    let first_end = first
        .steps
        .values()
        .filter_map(|s| s.finished_at)
        .max()
        .unwrap();
    let second_start = second
        .steps
        .values()
        .filter_map(|s| s.started_at)
        .min()
        .unwrap();
    assert!(
        second_start >= first_end,
        "the builds did not overlap: {first_end} / {second_start}"
    );
    // A run reads as finished as soon as its last event is journaled; the environment record follows in the same
    // invocation's hand-over, a moment later.
    let env = loop {
        let status = app.stack.app.status().await.unwrap();
        let env = status
            .environments
            .iter()
            .find(|e| e.environment == "pr-9")
            .unwrap()
            .clone();
        if env.status != "building" || std::time::Instant::now() >= deadline {
            break env;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (env.last_run.as_str(), env.status.as_str()),
        (second.id.as_str(), "ready")
    );
    app.shutdown().await;
}
