//! `nightshift serve` and `nightshift up` as processes: crashes of the host and of its handler, runs in flight,
//! queued releases, a rebuild after a sweep, and `--json`.

use crate::cli_env::*;
use crate::helpers::*;
use nightshift_core::run::{Run, RunStatus, StepStatus};
use nightshift_core::StepName;
use std::time::{Duration, Instant};

/// a -> b (slow enough to be killed in) -> c.
fn slow_chain() -> String {
    shell_catalog(
        &[
            sh_step("a", &[], "echo a"),
            sh_step("b", &["a"], "sleep 3; echo b"),
            sh_step("c", &["b"], "echo c"),
        ]
        .concat(),
    )
}

/// No job's runner started twice, and every step's last attempt ran in a job that started exactly once. A job that
/// never started is allowed only for an attempt that did not succeed: a host killed between creating a job and
/// spawning its process leaves such a job, which the watchdog fails and retries (see `ProcessJobs`).
fn each_job_started_at_most_once(runs: &[Run], starts: &std::collections::BTreeMap<String, usize>) {
    assert!(!starts.is_empty());
    assert!(
        starts.values().all(|n| *n <= 1),
        "a job started twice: {starts:?}"
    );
    for run in runs {
        for (name, step) in &run.steps {
            let last = step.attempts.last().expect("every step ran");
            assert_eq!(
                starts.get(last.job.as_str()),
                Some(&1),
                "{}: step {name}'s last attempt {} started once: {starts:?}",
                run.id,
                last.job
            );
            for attempt in &step.attempts {
                if starts.get(attempt.job.as_str()) == Some(&0) {
                    assert_ne!(
                        attempt.outcome.as_deref(),
                        Some("succeeded"),
                        "{}: {} never started yet succeeded",
                        run.id,
                        attempt.job
                    );
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_killed_with_sigkill_mid_run_and_started_again_finishes_every_run_in_flight() {
    let env = CliEnv::new(&slow_chain());
    let mut serve = env.serve(1);
    for (target, version) in [("pr-1", "1.0.0"), ("main", "2.0.0")] {
        let out = env.run(&["release", "demo", target, version, "--requested-by", "test"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains("--wait --message-id"), "{}", out.stdout);
    }
    // Both runs in flight, each with b running: the host dies without a chance to clean up.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let runs = env.runs().await;
        let b_running = runs
            .iter()
            .filter(|r| r.steps[&StepName::parse("b").unwrap()].status == StepStatus::Running)
            .count();
        if runs.len() == 2 && b_running >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "b never ran: {}",
            env.serve_log(1)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sigkill(&mut serve);
    assert!(
        env.runs().await.iter().any(|r| !r.status.is_finished()),
        "the kill landed mid-run"
    );

    let mut serve = env.serve(2);
    let runs = env.finished_runs(2, Duration::from_secs(120)).await;
    // The `status` function answers on the port serve published, under api/ as `func start` serves it.
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env.state.join("serve.json")).unwrap()).unwrap();
    let url = format!("http://127.0.0.1:{}/api/status", info["port"]);
    let status: serde_json::Value =
        tokio::task::spawn_blocking(move || reqwest::blocking::get(url).unwrap().json().unwrap())
            .await
            .unwrap();
    assert_eq!(status["runs"].as_array().unwrap().len(), 2, "{status}");
    for r in &runs {
        assert_eq!(r.status, RunStatus::Succeeded, "{}: {:?}", r.id, r.reason);
    }
    each_job_started_at_most_once(&runs, &env.runner_starts());
    let log = env.serve_log(2);
    assert!(
        log.contains("succeeded"),
        "serve prints run and step changes: {log}"
    );

    // `up` joins the running serve (no second host on the same queues) and follows tonight's run to its end.
    let out = env.run(&["up", "--port", "0", "--timeout", "120"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Joining the local host"),
        "{}",
        out.stdout
    );
    assert_eq!(
        sigint(&mut serve).code(),
        Some(0),
        "Ctrl-C stops serve cleanly"
    );
    assert!(env.serve_log(2).contains("Stopped."));
    assert!(!env.state.join("serve.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_handler_killed_under_serve_is_restarted_and_the_run_finishes_with_no_job_started_twice(
) {
    let app = spawn_app(Options::new(slow_chain())).await;
    app.fire_nightly().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = app.runs().await;
        if runs
            .first()
            .is_some_and(|r| r.steps[&StepName::parse("b").unwrap()].status == StepStatus::Running)
        {
            break;
        }
        assert!(Instant::now() < deadline, "b never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The handler dies on its own: nobody tells the host. b's result arrives while it is down.
    let pid = app.stack.host.handler_pid().await.unwrap();
    // SAFETY: signals the handler process this test's host started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let run = app.finished_run(Duration::from_secs(90)).await;

    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.reason);
    assert!(app.stack.host.handler_restarts() >= 1);
    assert_ne!(app.stack.host.handler_pid().await, Some(pid));
    assert!(run.steps.values().all(|s| s.attempts.len() == 1));
    assert!(app.runner_starts().values().all(|n| *n == 1));
    for q in ["steps", "step-events"] {
        assert!(
            app.stack
                .host
                .bus()
                .queue(q)
                .unwrap()
                .dead_letters()
                .unwrap()
                .is_empty(),
            "nothing dead-lettered on {q}"
        );
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn up_with_a_release_queued_before_it_starts_follows_both_runs_to_the_end_and_prints_only_json(
) {
    let env = CliEnv::new(&diamond());
    let out = env.run(&[
        "release",
        "demo",
        "pr-9",
        "1.2.3",
        "--message-id",
        "queued-1",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let out = env.run(&["up", "--port", "0", "--json", "--timeout", "120"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("stdout is JSON and only JSON");
    let runs = summary.as_array().unwrap();
    let envs: Vec<&str> = runs
        .iter()
        .map(|r| r["environment"].as_str().unwrap())
        .collect();
    assert!(
        envs.contains(&"nightly") && envs.contains(&"pr-9"),
        "{envs:?}"
    );
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{summary}");
    // `up` stopped its host only after both: nothing is left running or queued.
    let app = env.app();
    assert!(app.repo.active_runs().await.unwrap().is_empty());
    assert!(env
        .runs()
        .await
        .iter()
        .all(|r| r.status == RunStatus::Succeeded));
    assert!(!env.state.join("serve.json").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn up_after_a_sweep_builds_tonights_environment_again_as_a_new_run_and_keeps_the_old_one() {
    let env = CliEnv::new(&diamond());
    let out = env.run(&["up", "--port", "0", "--timeout", "120"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let first = env.runs().await.remove(0);
    // The resource group a Terraform layer would have created, with the run's tags (expiry included).
    nightshift_local::cloud::LocalCloud::new(env.state.join("cloud"))
        .create_group("rg-demo-nightly", &first.tags)
        .unwrap();
    let after = nightshift_core::expiry::tags::format_time(
        first.expires_at.unwrap() + chrono::Duration::minutes(1),
    );
    let out = env.run(&["sweep", "--now", &after, "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let out = env.run(&["up", "--port", "0", "--json", "--timeout", "120"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let summary: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let rebuilt = summary[0]["id"].as_str().unwrap().to_string();
    assert_eq!(rebuilt, format!("{}-2", first.id), "{summary}");
    assert_eq!(summary[0]["status"], "succeeded");
    let runs = env.runs().await;
    assert_eq!(runs.len(), 2, "the destroyed build stays in history");
    let record = env
        .app()
        .repo
        .environment("demo", "nightly")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.last_run.as_str(), record.status.as_str()),
        (rebuilt.as_str(), "ready")
    );

    // A third `up` the same night has nothing to rebuild: it follows the ready build and starts nothing.
    let out = env.run(&["up", "--port", "0", "--timeout", "120"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(env.runs().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn release_wait_follows_the_deploy_to_ready_and_a_rejected_release_exits_1_with_its_reason() {
    let env = CliEnv::new(&diamond());
    let out = env.run(&[
        "release",
        "demo",
        "pr-3",
        "0.1.0",
        "--wait",
        "--timeout",
        "120",
    ]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("is ready: version 0.1.0"),
        "{}",
        out.stdout
    );

    let out = env.run(&[
        "release",
        "demo",
        "staging",
        "0.1.0",
        "--wait",
        "--timeout",
        "60",
        "--json",
    ]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let outcome: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(outcome["outcome"], "rejected");
    assert!(
        outcome["reason"].as_str().unwrap().contains("staging"),
        "{outcome}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn up_with_no_nightly_environment_follows_a_queued_release_and_without_one_says_what_to_do() {
    let catalog = diamond().replace(
        "  nightly:\n    kind: nightly\n    schedule: { at: \"00:00\", catch_up: 24h }\n    lifetime: 1h\n",
        "",
    );
    assert!(!catalog.contains("kind: nightly"), "{catalog}");
    let env = CliEnv::new(&catalog);
    let out = env.run(&["up", "--port", "0"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("nightshift release PRODUCT ENV VERSION"),
        "{}",
        out.stderr
    );

    let out = env.run(&["release", "demo", "pr-2", "1.0.0"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = env.run(&["up", "--port", "0", "--timeout", "120"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Environment demo/pr-2 is ready"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn up_interrupted_with_ctrl_c_stops_its_host_gracefully_and_the_next_up_finishes_the_run() {
    let env = CliEnv::new(&slow_chain());
    let log = std::fs::File::create(env.dir.path().join("up-1.log")).unwrap();
    let mut up = env
        .command(&["up", "--port", "0", "--timeout", "120"])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = env.runs().await;
        if runs
            .first()
            .is_some_and(|r| r.steps[&StepName::parse("b").unwrap()].status == StepStatus::Running)
        {
            break;
        }
        assert!(Instant::now() < deadline, "b never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sigint(&mut up).code(), Some(130));
    assert!(!env.state.join("serve.json").exists(), "its host stopped");

    let out = env.run(&["up", "--port", "0", "--timeout", "120"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let runs = env.runs().await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Succeeded);
    each_job_started_at_most_once(&runs, &env.runner_starts());
}
