//! `nightshift runner`, the process every job executes, started as the local job runner starts it: a run document
//! planned with the core's planner and saved with the app's `Repo` in a temporary state directory, the assignment
//! in `NIGHTSHIFT_RUN_ID` / `NIGHTSHIFT_STEP` / `NIGHTSHIFT_ATTEMPT`.

use nightshift_app::repo::{log_key, result_key, Repo};
use nightshift_core::catalog::Catalog;
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::ports::{SecretValue, Store};
use nightshift_core::run::{Run, Trigger};
use nightshift_core::{EnvironmentName, StepName};
use nightshift_local::queue::{LocalBus, QueueOptions};
use nightshift_local::secrets::LocalSecrets;
use nightshift_local::store::FsStore;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: runner-check
description: steps for the runner's process tests
platform: local
defaults:
  retries: 0
  timeout: 5m
steps:
  wait:
    smoke:
      # Cleans up on SIGTERM (as Terraform does), with a grandchild in the same process group.
      # STOP_MARKER comes from the runner's own environment, which its children inherit.
      command: [sh, -c, "trap 'echo cleaned-up > $STOP_MARKER; exit 143' TERM; sleep 30 & wait"]
  echo-secret:
    smoke:
      command: [sh, -c, "echo token=$API_TOKEN; echo done"]
    secrets:
      API_TOKEN: api-token
  leak-output:
    smoke:
      # A careless step that puts its secret in its outputs: plain, inside a URL, in a list.
      command: [sh, -c, "printf '{\"token\": \"%s\", \"db\": {\"url\": \"https://admin:%s@db\"}, \"list\": [\"%s\"], \"port\": 5432}' $API_TOKEN $API_TOKEN $API_TOKEN > $NIGHTSHIFT_OUTPUTS_FILE"]
    secrets:
      API_TOKEN: api-token
environments:
  pr:
    kind: pull-request
    lifetime: 1d
"#;

const SECRET: &str = "s3cr3t-token-value-9f2c";

struct Fixture {
    dir: tempfile::TempDir,
    run: Run,
}

impl Fixture {
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    fn store(&self) -> FsStore {
        FsStore::new(self.state().join("store"))
    }
    fn runner(&self, step: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nightshift"));
        c.arg("runner")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NIGHTSHIFT_STATE_DIR", self.state())
            .env("NIGHTSHIFT_REPO_ROOT", self.dir.path())
            .env("NIGHTSHIFT_TOOLS_DIR", self.dir.path().join("tools"))
            .env("NIGHTSHIFT_JOB_DIR", self.dir.path().join("job"))
            .env("NIGHTSHIFT_RUN_ID", self.run.id.as_str())
            .env("NIGHTSHIFT_STEP", step)
            .env("NIGHTSHIFT_ATTEMPT", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }
    async fn stored(&self, key: &str) -> String {
        let v = self.store().get(key).await.unwrap();
        String::from_utf8(v.unwrap_or_else(|| panic!("{key} is not stored")).bytes).unwrap()
    }
    fn step_events(&self) -> Vec<String> {
        LocalBus::new(self.state().join("queues"), QueueOptions::default())
            .queue("step-events")
            .unwrap()
            .peek_all()
            .unwrap()
            .into_iter()
            .map(|m| m.body)
            .collect()
    }
}

/// Plans a pull-request run of the test product and saves it as `nightshift` would.
async fn prepared_run() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Catalog::parse_files(&[("runner-check.yaml".into(), CATALOG.into())]).unwrap();
    let product = catalog.products.values().next().unwrap();
    let env = EnvironmentName::parse("pr-7").unwrap();
    let run = planner::plan(PlanRequest {
        product,
        environment: &env,
        trigger: Trigger::Release {
            version: "1.0.0".into(),
            requested_by: "runner-test".into(),
            message_id: "runner-process-test".into(),
            commit_time: None,
        },
        ttl: None,
        instance: "nightshift-test",
        now: chrono::Utc::now(),
    })
    .unwrap();
    let f = Fixture { dir, run };
    assert!(Repo::new(Arc::new(f.store()))
        .create_run(&f.run)
        .await
        .unwrap());
    LocalSecrets::new(f.state().join("key-vault"))
        .set("api-token", &SecretValue::new(SECRET.into()))
        .unwrap();
    f
}

/// Processes whose parent is `parent` and whose command is `comm`, still alive (not zombies).
fn live_children(parent: u32, comm: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let name = head.split_once(" (").map(|x| x.1).unwrap_or("");
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == parent && name == comm && state != "Z" {
            found.push(pid);
        }
    }
    found
}

fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z'))
            .unwrap_or(false),
    }
}

fn step_key(f: &Fixture, step: &str) -> StepName {
    let s = StepName::parse(step).unwrap();
    assert!(f.run.steps.contains_key(&s));
    s
}

#[tokio::test]
async fn the_runner_on_sigterm_stops_its_child_and_reports_the_step_interrupted() {
    // Arrange
    let f = prepared_run().await;
    let step = step_key(&f, "wait");
    let marker = f.dir.path().join("stopped-cleanly");
    let mut runner = f
        .runner("wait")
        .env("STOP_MARKER", &marker)
        .spawn()
        .expect("start nightshift runner");
    let pid = runner.id();
    let stdout = runner.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });

    // Wait until its log shows the child and the child is running.
    let started = Instant::now();
    let mut log = Vec::new();
    let sleep_pid = loop {
        while let Ok(l) = rx.try_recv() {
            log.push(l);
        }
        let grandchildren: Vec<u32> = live_children(pid, "sh")
            .into_iter()
            .flat_map(|sh| live_children(sh, "sleep"))
            .collect();
        if log.iter().any(|l| l.starts_with("$ sh -c")) && !grandchildren.is_empty() {
            break grandchildren[0];
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the child did not start; log: {log:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };

    // Act
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = loop {
        if let Some(s) = runner.try_wait().unwrap() {
            break s;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "the runner did not exit within 5 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let exit_after = signalled.elapsed();

    // Assert: non-zero, child gone, interrupted in the store and on step-events.
    assert!(!status.success(), "{status}");
    let gone = Instant::now();
    while is_alive(sleep_pid) && gone.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !is_alive(sleep_pid),
        "the sleep child {sleep_pid} outlived the runner"
    );
    assert_eq!(
        std::fs::read_to_string(&marker).ok().as_deref(),
        Some("cleaned-up\n"),
        "the step got SIGTERM and cleaned up, rather than being killed"
    );
    let result: Value =
        serde_json::from_str(&f.stored(&result_key(&f.run.id, &step, 1)).await).unwrap();
    assert_eq!(result["outcome"], "interrupted", "{result:#}");
    let events = f.step_events();
    assert_eq!(events.len(), 1, "{events:?}");
    let event: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(event["outcome"], "interrupted", "{event:#}");
    assert_eq!(event["step"], "wait");
    eprintln!("runner exited with {status} {exit_after:?} after SIGTERM");
}

#[tokio::test]
async fn a_secret_given_to_a_step_never_appears_in_its_stored_log_or_result() {
    // Arrange
    let f = prepared_run().await;
    let step = step_key(&f, "echo-secret");

    // Act
    let started = Instant::now();
    let out = f.runner("echo-secret").output().unwrap();
    let took = started.elapsed();

    // Assert
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    let log = f.stored(&log_key(&f.run.id, &step, 1)).await;
    assert!(log.contains("token=***"), "{log}");
    let result = f.stored(&result_key(&f.run.id, &step, 1)).await;
    let events = f.step_events().join("\n");
    for (what, text) in [
        ("stored log", &log),
        ("stored result", &result),
        ("step-events message", &events),
        ("runner output", &printed),
    ] {
        assert!(
            !text.contains(SECRET),
            "the secret reached the {what}:\n{text}"
        );
    }
    assert!(events.contains("succeeded"), "{events}");
    eprintln!("secret-redaction step ran in {took:?}");
}

#[tokio::test]
async fn a_secret_a_step_writes_to_its_outputs_is_redacted_before_the_result_the_run_and_the_status(
) {
    // Arrange
    let f = prepared_run().await;
    let step = step_key(&f, "leak-output");

    // Act: the runner runs the step and reports; the step-events function applies the report.
    std::fs::create_dir_all(f.dir.path().join("job")).unwrap();
    let out = f.runner("leak-output").output().unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{printed}");
    let events = f.step_events();
    assert_eq!(events.len(), 1, "{events:?}");
    let env: std::collections::BTreeMap<&str, String> = [
        ("NIGHTSHIFT_STATE_DIR", f.state().display().to_string()),
        ("NIGHTSHIFT_REPO_ROOT", f.dir.path().display().to_string()),
    ]
    .into();
    let settings = nightshift_app::Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    let app = nightshift_app::App::new(nightshift_app::wiring::local(&settings), settings);
    let mut running = f.run.clone();
    running.steps.get_mut(&step).unwrap().attempt = 1;
    running.steps.get_mut(&step).unwrap().status = nightshift_core::run::StepStatus::Running;
    app.repo.put_run(&running).await.unwrap();
    app.step_event(&events[0], "event-1").await.unwrap();

    // Assert
    let result = f.stored(&result_key(&f.run.id, &step, 1)).await;
    let run = app.repo.run(&f.run.id).await.unwrap().unwrap();
    let outputs = &run.steps[&step].outputs;
    assert_eq!(outputs["token"], "***", "{outputs:?}");
    assert_eq!(outputs["db"]["url"], "https://admin:***@db", "{outputs:?}");
    assert_eq!(outputs["list"][0], "***", "{outputs:?}");
    assert_eq!(
        outputs["port"], 5432,
        "what is not a secret stays as it was"
    );
    let document = serde_json::to_string(&run).unwrap();
    let status = serde_json::to_string(&app.status().await.unwrap()).unwrap();
    for (what, text) in [
        ("stored result", &result),
        ("step-events message", &events[0]),
        ("run document", &document),
        ("status", &status),
    ] {
        assert!(
            !text.contains(SECRET),
            "the secret reached the {what}:\n{text}"
        );
    }
}

#[tokio::test]
async fn the_runner_records_its_exit_code_in_its_job_directory_as_the_local_jobs_read_it() {
    // Arrange: a job directory, as the local jobs adapter makes one (it starts the runner with no wrapper shell).
    let f = prepared_run().await;
    std::fs::create_dir_all(f.dir.path().join("job")).unwrap();

    // Act: a step that succeeds, then an attempt the run does not know (refused, exit 1).
    let ok = f.runner("echo-secret").output().unwrap();
    let ok_exit = std::fs::read_to_string(f.dir.path().join("job/exit")).unwrap();
    let refused = f
        .runner("echo-secret")
        .env("NIGHTSHIFT_RUN_ID", "runner-check.pr-7.unknown-run")
        .output()
        .unwrap();
    let refused_exit = std::fs::read_to_string(f.dir.path().join("job/exit")).unwrap();

    // Assert
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(ok_exit, "0\n");
    assert_ne!(refused.status.code(), Some(0));
    assert_eq!(
        refused_exit.trim().parse::<i32>().ok(),
        refused.status.code(),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// Every job starts this binary; as a position-independent executable it spent about 3 ms of each start relocating
/// (and copying) its read-only data (`crates/cli/build.rs`). ELF `e_type` 2 is a position-dependent executable, 3
/// a PIE.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_binary_every_job_starts_is_linked_position_dependent_so_it_starts_without_relocating() {
    let bytes = std::fs::read(env!("CARGO_BIN_EXE_nightshift")).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");
    let e_type = u16::from_le_bytes([bytes[16], bytes[17]]);
    assert_eq!(e_type, 2, "ET_EXEC expected, found e_type {e_type}");
}
