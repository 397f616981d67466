//! The crash trial: the handler is killed at every distinct write point of a release (and of a nightly run), and the
//! run still finishes with each job started once.
//!
//! The use cases run over the local store, wrapped in a fault injector: a test hook, not timing. A trial arms it
//! at the Nth write the handler makes (store writes and deletes, and its own bus sends), either just before that
//! write (it never happens) or just after it (it happened, the invocation did not finish). From then on every port
//! of that handler fails, as a dead process would do nothing more; the invocation's output messages are lost. The
//! harness then does what the Functions host and Service Bus do: it redelivers the message whose invocation failed
//! (to a fresh handler: the fault is spent), and fires the watchdog timer whenever the queues are empty, until the
//! run has finished. Jobs are a fake that plays the runner: a job "runs" at once, stores its result and sends its
//! event, as `nightshift runner` would; it counts how many times each step's job was started.
//!
//! The figures (trials, completed, jobs doubled, write points) are printed; run with
//! `cargo test -p nightshift-app --test crash_release -- --nocapture` to see them.

mod support;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use nightshift_app::repo::result_key;
use nightshift_app::App;
use nightshift_core::ports::{
    Bus, Clock, JobSpec, JobStart, JobState, Jobs, OutboundMessage, PortError, Precondition, Store,
    Versioned,
};
use nightshift_core::run::RunStatus;
use nightshift_core::{JobName, RunId, StepName};
use nightshift_local::store::FsStore;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  infra: { smoke: { command: [true] } }
  db: { needs: [infra], smoke: { command: [true] } }
  web: { needs: [infra], smoke: { command: [true] } }
  check: { needs: [db, web], smoke: { command: [true] } }
environments:
  pr: { kind: pull-request }
  nightly: { kind: nightly, schedule: { at: "00:00", timezone: UTC, catch_up: 24h } }
"#;

const RELEASE: &str = r#"{"schema":"nightshift.release/v1","product":"shop","environment":"pr-9","version":"2.0.0","requested_by":"ci"}"#;

/// What starts the run: a release message, or the nightly timer (which fires again at each pass, as the hourly
/// timer would, until the run has finished).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Release,
    Nightly,
}

/// Where the handler dies: the Nth write it makes (counting from 1), before or after that write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KillPoint {
    write: usize,
    after: bool,
}

/// The test hook: counts the handler's writes and kills it at the armed one.
#[derive(Default)]
struct Fault {
    writes: AtomicUsize,
    /// 0: disarmed.
    target: AtomicUsize,
    after: AtomicBool,
    dead: AtomicBool,
}

impl Fault {
    fn arm(&self, at: KillPoint) {
        self.target.store(at.write, Ordering::SeqCst);
        self.after.store(at.after, Ordering::SeqCst);
    }
    fn alive(&self) -> Result<(), PortError> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(PortError::Transient("the handler was killed".into()));
        }
        Ok(())
    }
    fn kill(&self) -> PortError {
        self.dead.store(true, Ordering::SeqCst);
        // Spent: the host restarts the handler, which is not killed again.
        self.target.store(0, Ordering::SeqCst);
        PortError::Transient("the handler was killed".into())
    }
    /// Before a write: Err if the handler dies now; else the write's number.
    fn before_write(&self) -> Result<usize, PortError> {
        self.alive()?;
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.target.load(Ordering::SeqCst) && !self.after.load(Ordering::SeqCst) {
            return Err(self.kill());
        }
        Ok(n)
    }
    fn after_write(&self, n: usize) -> Result<(), PortError> {
        if n == self.target.load(Ordering::SeqCst) && self.after.load(Ordering::SeqCst) {
            return Err(self.kill());
        }
        Ok(())
    }
    /// Was the handler killed during the last invocation? Then a fresh one takes over.
    fn restart(&self) -> bool {
        self.dead.swap(false, Ordering::SeqCst)
    }
}

struct CrashStore {
    inner: Arc<FsStore>,
    fault: Arc<Fault>,
}

#[async_trait]
impl Store for CrashStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError> {
        self.fault.alive()?;
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, bytes: Vec<u8>, pre: Precondition) -> Result<String, PortError> {
        let n = self.fault.before_write()?;
        let version = self.inner.put(key, bytes, pre).await?;
        self.fault.after_write(n)?;
        Ok(version)
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        self.fault.alive()?;
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let n = self.fault.before_write()?;
        self.inner.delete(key).await?;
        self.fault.after_write(n)
    }
    // A run journal's appends are writes the handler may die before or after, like any other.
    async fn create_appendable(&self, key: &str, first: Vec<u8>) -> Result<bool, PortError> {
        let n = self.fault.before_write()?;
        let created = self.inner.create_appendable(key, first).await?;
        self.fault.after_write(n)?;
        Ok(created)
    }
    async fn append(&self, key: &str, record: Vec<u8>) -> Result<Option<u64>, PortError> {
        let n = self.fault.before_write()?;
        let at = self.inner.append(key, record).await?;
        self.fault.after_write(n)?;
        Ok(at)
    }
    async fn read_from(&self, key: &str, offset: u64) -> Result<Option<Vec<u8>>, PortError> {
        self.fault.alive()?;
        self.inner.read_from(key, offset).await
    }
}

/// Service Bus, in memory: one FIFO of (queue, message id, body) across the queues, with duplicate detection for
/// the messages sent with an id (the bus port); output-binding messages have none.
#[derive(Default)]
struct Queues {
    fifo: Mutex<VecDeque<(String, String, String)>>,
    seen: Mutex<BTreeSet<String>>,
    counter: AtomicUsize,
}

impl Queues {
    fn push(&self, queue: &str, id: Option<String>, body: String) {
        let id = match id {
            Some(id) => {
                if !self.seen.lock().unwrap().insert(id.clone()) {
                    return;
                }
                id
            }
            None => format!("out-{}", self.counter.fetch_add(1, Ordering::SeqCst)),
        };
        self.fifo
            .lock()
            .unwrap()
            .push_back((queue.to_string(), id, body));
    }
    fn pop(&self) -> Option<(String, String, String)> {
        self.fifo.lock().unwrap().pop_front()
    }
}

/// The handler's own sends (scheduled retries) count as writes.
struct CrashBus {
    queues: Arc<Queues>,
    fault: Arc<Fault>,
}

#[async_trait]
impl Bus for CrashBus {
    async fn send(&self, m: OutboundMessage) -> Result<(), PortError> {
        let n = self.fault.before_write()?;
        self.queues.push(&m.queue, Some(m.message_id), m.body);
        self.fault.after_write(n)
    }
}

/// Jobs that run at once and report as the runner does (store the result, send the event); a start is counted
/// per step and per job.
struct PlayedJobs {
    fault: Arc<Fault>,
    store: Arc<FsStore>,
    queues: Arc<Queues>,
    clock: Arc<ManualClock>,
    states: Mutex<BTreeMap<String, JobState>>,
    starts_per_step: Mutex<BTreeMap<String, usize>>,
    /// Every attempt started, and the most that were still outstanding (started, their result not yet applied to
    /// the run) when another one started: what the global job cap bounds.
    started: Mutex<Vec<(RunId, StepName, u32)>>,
    max_outstanding: AtomicUsize,
}

impl PlayedJobs {
    /// Attempts started earlier whose step is still at that attempt and not finished in the stored run.
    async fn outstanding(&self) -> usize {
        let started = self.started.lock().unwrap().clone();
        let mut n = 0;
        for (run, step, attempt) in started {
            // Read as any process reads a run: its journal folded (or its snapshot once finished).
            let repo = nightshift_app::repo::Repo::new(self.store.clone());
            let Some(run) = repo.run(&run).await.unwrap() else {
                continue;
            };
            if run.steps[&step].attempt == attempt && !run.steps[&step].status.is_terminal() {
                n += 1;
            }
        }
        n
    }
}

#[async_trait]
impl Jobs for PlayedJobs {
    async fn start(&self, spec: &JobSpec) -> Result<JobStart, PortError> {
        self.fault.alive()?;
        let now = self.clock.now();
        {
            let mut states = self.states.lock().unwrap();
            if states.contains_key(spec.name.as_str()) {
                return Ok(JobStart::AlreadyExists);
            }
            states.insert(
                spec.name.to_string(),
                JobState::Exited {
                    code: 0,
                    finished_at: Some(now),
                },
            );
        }
        *self
            .starts_per_step
            .lock()
            .unwrap()
            .entry(spec.step.to_string())
            .or_default() += 1;
        let outstanding = self.outstanding().await;
        self.max_outstanding
            .fetch_max(outstanding, Ordering::SeqCst);
        self.started
            .lock()
            .unwrap()
            .push((spec.run_id.clone(), spec.step.clone(), spec.attempt));
        // The runner's own writes: not the handler's, so not kill points.
        let body = serde_json::json!({
            "schema": "nightshift.step-event/v1",
            "run_id": spec.run_id, "step": spec.step, "attempt": spec.attempt,
            "outcome": "succeeded", "exit_code": 0, "outputs": {},
            "started_at": now, "finished_at": now,
        })
        .to_string();
        self.store
            .put(
                &result_key(&spec.run_id, &spec.step, spec.attempt),
                body.clone().into_bytes(),
                Precondition::None,
            )
            .await?;
        self.queues.push(
            "step-events",
            Some(format!(
                "{}/{}/{}/result",
                spec.run_id, spec.step, spec.attempt
            )),
            body,
        );
        Ok(JobStart::Started)
    }
    async fn state(&self, name: &JobName) -> Result<JobState, PortError> {
        self.fault.alive()?;
        Ok(self
            .states
            .lock()
            .unwrap()
            .get(name.as_str())
            .cloned()
            .unwrap_or(JobState::NotFound))
    }
    async fn logs(&self, _: &JobName) -> Result<String, PortError> {
        Ok(String::new())
    }
    async fn stop(&self, _: &JobName) -> Result<(), PortError> {
        Ok(())
    }
    async fn delete(&self, _: &JobName) -> Result<(), PortError> {
        Ok(())
    }
}

struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    fn advance(&self, secs: i64) {
        *self.0.lock().unwrap() += Duration::seconds(secs);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// What one trial ended with.
#[derive(Debug)]
struct Trial {
    writes: usize,
    finished: bool,
    starts_per_step: BTreeMap<String, usize>,
    /// The most jobs outstanding when another started.
    max_outstanding: usize,
    killed: bool,
    logs: Vec<String>,
}

async fn trial(dir: &Path, start: Start, max_jobs: u32, kill: Option<KillPoint>) -> Trial {
    let mut settings = support::local_settings(dir, CATALOG, "true");
    settings.max_jobs = max_jobs;
    let fault = Arc::new(Fault::default());
    if let Some(k) = kill {
        fault.arm(k);
    }
    let queues = Arc::new(Queues::default());
    let clock = Arc::new(ManualClock(Mutex::new(
        "2026-11-21T10:00:00Z".parse().unwrap(),
    )));
    let fs = Arc::new(FsStore::new(settings.store_dir()));
    let jobs = Arc::new(PlayedJobs {
        fault: fault.clone(),
        store: fs.clone(),
        queues: queues.clone(),
        clock: clock.clone(),
        states: Mutex::default(),
        starts_per_step: Mutex::default(),
        started: Mutex::default(),
        max_outstanding: AtomicUsize::new(0),
    });
    let mut ports = nightshift_app::wiring::local(&settings);
    ports.store = Arc::new(CrashStore {
        inner: fs,
        fault: fault.clone(),
    });
    ports.bus = Arc::new(CrashBus {
        queues: queues.clone(),
        fault: fault.clone(),
    });
    ports.jobs = jobs.clone();
    ports.clock = clock.clone();
    let app = App::new(ports, settings);

    let environment = match start {
        Start::Release => {
            queues.push("releases", Some("release-1".into()), RELEASE.into());
            "pr-9"
        }
        Start::Nightly => "nightly",
    };
    let mut killed = false;
    let mut logs = Vec::new();
    let mut finished = false;
    for _pass in 0..20 {
        if start == Start::Nightly {
            // A timer is not redelivered: it fires again.
            let result = app.nightly().await;
            let died = fault.restart();
            killed |= died;
            match result {
                Ok(out) if !died => {
                    logs.extend(out.logs);
                    for m in out.steps {
                        queues.push("steps", None, m);
                    }
                }
                other => logs.push(format!("nightly-scheduler failed: {:?}", other.err())),
            }
        }
        let mut invocations = 0;
        while let Some((queue, id, body)) = queues.pop() {
            invocations += 1;
            assert!(invocations < 500, "the queues never drain: {logs:?}");
            clock.advance(1);
            let result = match queue.as_str() {
                "releases" => app.release(&body, &id).await,
                "steps" => app.dispatch(&body, &id).await,
                "step-events" => app.step_event(&body, &id).await,
                other => panic!("no function listens on {other}"),
            };
            let died = fault.restart();
            killed |= died;
            match result {
                Ok(out) if !died => {
                    logs.extend(out.logs);
                    for m in out.steps {
                        queues.push("steps", None, m);
                    }
                }
                // A failed invocation: its outputs are lost and Service Bus delivers the message again (the same
                // message id: duplicate detection applies to sends, not redeliveries).
                other => {
                    logs.push(format!("{queue} {id} failed: {:?}", other.err()));
                    queues
                        .fifo
                        .lock()
                        .unwrap()
                        .push_back((queue.clone(), id, body));
                }
            }
        }
        let run = app.repo.runs().await.unwrap().into_iter().next();
        let active = app.repo.active_runs().await.unwrap();
        let env = app.repo.environment("shop", environment).await.unwrap();
        // The run indexes (what status reads) say so too, whatever write the kill cut off.
        let index = app
            .repo
            .environment_index("shop", environment)
            .await
            .unwrap();
        if run
            .as_ref()
            .is_some_and(|r| r.status == RunStatus::Succeeded)
            && active.is_empty()
            && env.is_some_and(|e| e.status == "ready")
            && index
                .is_some_and(|i| i.recent.first().map(|d| d.status) == Some(RunStatus::Succeeded))
        {
            finished = true;
            break;
        }
        // The queues are empty: the watchdog's timer fires (late enough for every grace period).
        clock.advance(300);
        let result = app.watchdog().await;
        let died = fault.restart();
        killed |= died;
        match result {
            Ok(out) if !died => {
                logs.extend(out.logs);
                for m in out.steps {
                    queues.push("steps", None, m);
                }
            }
            other => logs.push(format!("watchdog failed: {:?}", other.err())),
        }
    }
    let starts_per_step = jobs.starts_per_step.lock().unwrap().clone();
    Trial {
        writes: fault.writes.load(Ordering::SeqCst),
        finished,
        starts_per_step,
        max_outstanding: jobs.max_outstanding.load(Ordering::SeqCst),
        killed,
        logs,
    }
}

/// The figures of one kind of trial.
struct Figures {
    write_points: usize,
    trials: usize,
    completed: usize,
    doubled: usize,
    /// The most jobs outstanding at a job's start, over every trial.
    max_outstanding: usize,
    failures: Vec<String>,
}

/// A trial without a kill counts the write points; then one trial per write point, killed before it and after it.
async fn kill_trials(start: Start, max_jobs: u32) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let clean = trial(dir.path(), start, max_jobs, None).await;
    assert!(clean.finished, "{:#?}", clean);
    assert_eq!(clean.starts_per_step.len(), 4);
    let write_points = clean.writes;
    assert!(write_points > 10, "a run writes more than that: {clean:#?}");
    let mut f = Figures {
        write_points,
        trials: 0,
        completed: 0,
        doubled: 0,
        max_outstanding: clean.max_outstanding,
        failures: Vec::new(),
    };
    for write in 1..=write_points {
        for after in [false, true] {
            let kill = KillPoint { write, after };
            let dir = tempfile::tempdir().unwrap();
            let t = trial(dir.path(), start, max_jobs, Some(kill)).await;
            f.trials += 1;
            f.max_outstanding = f.max_outstanding.max(t.max_outstanding);
            assert!(t.killed, "{kill:?} was never reached: {t:#?}");
            let twice: Vec<_> = t.starts_per_step.iter().filter(|(_, n)| **n > 1).collect();
            let all_once = t.starts_per_step.len() == 4 && twice.is_empty();
            f.doubled += twice.len();
            if t.finished && all_once {
                f.completed += 1;
            } else {
                f.failures.push(format!(
                    "{kill:?}: finished {}, starts {:?}, log {:#?}",
                    t.finished, t.starts_per_step, t.logs
                ));
            }
        }
    }
    println!(
        "{start:?}: kill trials: {} ({} write points, killed before and after each), completed: {}, jobs doubled: {}",
        f.trials, f.write_points, f.completed, f.doubled
    );
    f
}

#[tokio::test]
async fn a_release_killed_at_any_write_point_finishes_with_each_job_started_once() {
    let f = kill_trials(Start::Release, 16).await;
    assert!(f.failures.is_empty(), "{}", f.failures.join("\n\n"));
    assert_eq!(f.completed, f.trials);
    assert_eq!(f.doubled, 0);
}

#[tokio::test]
async fn a_nightly_run_killed_at_any_write_point_finishes_with_each_job_started_once() {
    let f = kill_trials(Start::Nightly, 16).await;
    assert!(f.failures.is_empty(), "{}", f.failures.join("\n\n"));
    assert_eq!(f.completed, f.trials);
    assert_eq!(f.doubled, 0);
}

#[tokio::test]
async fn a_release_killed_at_any_write_point_with_one_job_slot_finishes_with_each_job_started_once_and_one_at_a_time(
) {
    // db and web are ready together: one of them waits for the only slot, through every kill point.
    let f = kill_trials(Start::Release, 1).await;
    assert!(f.failures.is_empty(), "{}", f.failures.join("\n\n"));
    assert_eq!(f.completed, f.trials);
    assert_eq!(f.doubled, 0);
    assert_eq!(
        f.max_outstanding, 0,
        "a job started while another one's result was not yet applied"
    );
}

#[tokio::test]
async fn without_a_tight_job_cap_db_and_web_overlap() {
    // The check above can fail: with the default cap the two ready steps do run at once.
    let dir = tempfile::tempdir().unwrap();
    let t = trial(dir.path(), Start::Release, 16, None).await;
    assert!(t.finished, "{t:#?}");
    assert_eq!(t.max_outstanding, 1);
}
