//! `spawn_app()`: a complete local nightshift (the local Functions host driving the real handler process over the
//! custom-handler protocol, on-disk queues, real runner processes) in a temporary state directory, with a catalog
//! written by the test.

use nightshift::local_stack::{LocalStack, StackOptions};
use nightshift_app::Settings;
use nightshift_core::run::Run;
use nightshift_local::host::HandlerCommand;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn nightshift_bin() -> String {
    env!("CARGO_BIN_EXE_nightshift").to_string()
}

pub struct TestApp {
    pub stack: LocalStack,
    /// Kept alive for the test's duration: dropping it deletes the state.
    _dir: tempfile::TempDir,
}

pub struct Options {
    pub catalog: String,
    pub deliver_twice: bool,
    pub settings: BTreeMap<String, String>,
}

impl Options {
    pub fn new(catalog: impl Into<String>) -> Self {
        Self {
            catalog: catalog.into(),
            deliver_twice: false,
            settings: BTreeMap::new(),
        }
    }
}

pub async fn spawn_app(opts: Options) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    std::fs::write(
        catalog.join("test.yaml"),
        opts.catalog
            .replace("$TMP", &dir.path().display().to_string()),
    )
    .unwrap();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert(
        "NIGHTSHIFT_STATE_DIR".into(),
        dir.path().join("state").display().to_string(),
    );
    env.insert("NIGHTSHIFT_CATALOG".into(), catalog.display().to_string());
    env.insert(
        "NIGHTSHIFT_REPO_ROOT".into(),
        repo_root().display().to_string(),
    );
    env.insert(
        "NIGHTSHIFT_RUNNER".into(),
        format!("{} runner", nightshift_bin()),
    );
    env.extend(opts.settings.clone());
    let settings = Settings::from_lookup(|k| env.get(k).cloned().or_else(|| std::env::var(k).ok()))
        .unwrap()
        .absolutize();
    let stack_opts = StackOptions {
        deliver_twice: opts.deliver_twice,
        app_settings: opts.settings,
        handler: Some(HandlerCommand::new(nightshift_bin(), ["handler"])),
        ..StackOptions::default()
    };
    let stack = LocalStack::start(settings, stack_opts)
        .await
        .expect("the local stack starts");
    TestApp { stack, _dir: dir }
}

/// Whether a finished run's bookkeeping is done (its environment's record, its dossier, the next waiting run):
/// the last thing it does is to take the run out of the active index, as `up` waits for. The run's end is written
/// before.
pub async fn bookkept(repo: &nightshift_app::repo::Repo, run: &Run) -> bool {
    let key = nightshift_app::repo::active_key(&run.id);
    repo.store().get(&key).await.unwrap().is_none()
}

impl TestApp {
    pub async fn runs(&self) -> Vec<Run> {
        self.stack.app.repo.runs().await.unwrap()
    }

    /// Waits until a run exists and is finished, its bookkeeping done.
    pub async fn finished_run(&self, timeout: Duration) -> Run {
        let deadline = Instant::now() + timeout;
        loop {
            let runs = self.runs().await;
            for r in runs.iter().filter(|r| r.status.is_finished()) {
                if bookkept(&self.stack.app.repo, r).await {
                    return r.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no run finished within {timeout:?}: {:#?}",
                runs.iter()
                    .map(|r| (
                        &r.id,
                        r.status,
                        r.steps
                            .values()
                            .map(|s| (s.def.name.to_string(), s.status))
                            .collect::<Vec<_>>()
                    ))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Job directories, one per started job.
    pub fn jobs(&self) -> Vec<String> {
        let dir = self.stack.app.settings.jobs_dir();
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// How many times a runner started in each job (from the job logs).
    pub fn runner_starts(&self) -> BTreeMap<String, usize> {
        let dir = self.stack.app.settings.jobs_dir();
        self.jobs()
            .into_iter()
            .map(|j| {
                let log = std::fs::read_to_string(dir.join(&j).join("log")).unwrap_or_default();
                (j, runner_start_lines(&log))
            })
            .collect()
    }

    /// Fires the nightly timer as the host would, and insists the invocation succeeded.
    pub async fn fire_nightly(&self) {
        let record = self
            .stack
            .host
            .invoke_timer("nightly-scheduler")
            .await
            .expect("the timer fires");
        assert!(record.succeeded, "nightly-scheduler failed: {record:?}");
    }

    /// Puts a message on the `releases` queue, as a release pipeline would.
    pub fn send_release(&self, body: &str, message_id: &str) {
        self.stack
            .host
            .bus()
            .queue("releases")
            .expect("the releases queue")
            .send(nightshift_local::queue::NewMessage::new(body, message_id))
            .expect("sent");
    }

    pub async fn shutdown(self) {
        self.stack.shutdown().await;
    }
}

/// A catalog whose steps are shell commands: fast, and each can be made to fail on purpose.
pub fn shell_catalog(steps: &str) -> String {
    format!(
        r#"schema: nightshift.catalog/v1
product: demo
platform: local
defaults: {{ retries: 2, backoff: 1s }}
steps:
{steps}
environments:
  nightly:
    kind: nightly
    schedule: {{ at: "00:00", catch_up: 24h }}
    lifetime: 1h
  pr: {{ kind: pull-request, lifetime: 7d }}
  main: {{ kind: persistent }}
"#
    )
}

/// A smoke step running `sh -c <script>`.
pub fn sh_step(name: &str, needs: &[&str], script: &str) -> String {
    format!(
        "  {name}:\n    needs: [{}]\n    smoke:\n      command: [sh, -c, {}]\n",
        needs.join(", "),
        serde_json::to_string(script).unwrap()
    )
}

/// A diamond: a -> (b, c) -> d.
pub fn diamond() -> String {
    shell_catalog(
        &[
            sh_step("a", &[], "echo a"),
            sh_step("b", &["a"], "sleep 0.2; echo b"),
            sh_step("c", &["a"], "echo c"),
            sh_step("d", &["b", "c"], "echo d"),
        ]
        .concat(),
    )
}

/// How many runner starts a job log shows: the runner's first line, `nightshift runner: <run> step <step> attempt <n>`.
/// Its other lines (`nightshift runner: could not report the result: ...`) are not starts.
pub fn runner_start_lines(log: &str) -> usize {
    log.lines()
        .filter(|l| {
            l.strip_prefix("nightshift runner: ")
                .is_some_and(|rest| rest.contains(" step ") && rest.contains(" attempt "))
        })
        .count()
}

#[test]
fn a_runner_that_could_not_report_its_result_counts_as_one_start_not_two() {
    let log = "nightshift runner: r1 step db attempt 1\nterraform apply\n\
               nightshift runner: could not report the result: transient: queue busy\n";
    assert_eq!(runner_start_lines(log), 1);
    assert_eq!(runner_start_lines(&log.repeat(2)), 2);
}

/// What a loopback webhook received, in order.
pub type Bodies = std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>;

/// A loopback webhook (127.0.0.1) standing for Slack's and Teams' contract: it answers any POST on `/hook` with 200
/// and keeps the JSON bodies. Returns its URL and what it received.
pub async fn webhook() -> (String, Bodies) {
    let bodies: Bodies = Bodies::default();
    let b = bodies.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::Json<serde_json::Value>| {
            let b = b.clone();
            async move {
                b.lock().unwrap().push(body.0);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}
