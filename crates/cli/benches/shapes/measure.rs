//! Running one shape and turning what it left (runner timestamps, /proc, the store's operation log) into figures.

use crate::catalogs::Shape;
use chrono::{DateTime, Utc};
use nightshift::local_stack::{LocalStack, StackOptions};
use nightshift_app::{App, Settings};
use nightshift_core::engine::{self, Command, Event};
use nightshift_core::messages::StepEventMessage;
use nightshift_core::names::{EnvironmentName, JobName};
use nightshift_core::planner::{critical_path, plan, PlanRequest};
use nightshift_core::run::{Run, Trigger};
use nightshift_local::host::HandlerCommand;
use nightshift_local::queue::NewMessage;
use nightshift_local::store_stats::{StoreStats, STORE_STATS_ENV};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// What one shape gave. DAG shapes fill the first group, `status` shapes the second.
#[derive(Debug, Default)]
pub struct Figures {
    pub runs: usize,
    pub steps: usize,
    pub wall: f64,
    pub critical: f64,
    /// Seconds, sorted.
    pub transitions: Vec<f64>,
    /// Each transition in three parts (seconds, sorted), from the run's journal: `report`, from the last
    /// dependency's runner finishing to its result applied by `step-events`; `dispatch`, from there to the step's
    /// job started by `step-dispatch` (a wait for a job slot falls here); `start`, from there to the step's runner
    /// starting its work (the process start).
    pub stages: [Vec<f64>; 3],
    /// Transitions without the wait for a job slot (seconds, sorted): from the later of the last dependency
    /// finishing and the step getting its job slot (the handler's log: `got a job slot at`) to its runner starting.
    /// A step that waited for a slot waited by design (`NIGHTSHIFT_MAX_JOBS`, shown by `status`); this is what the
    /// orchestration itself adds.
    pub unqueued: Vec<f64>,
    /// The file system of the state directory (tmpfs, ext4, ...): creating and removing files costs very different
    /// amounts on each.
    pub fs: String,
    pub cpu_secs: f64,
    pub stats: StoreStats,
    pub status_ms: Vec<f64>,
    pub status_bytes: usize,
    pub status_rss_kib: i64,
    /// The machine's 1-minute load average when the shape finished (/proc/loadavg): other work skews figures.
    pub load: f64,
}

/// The 1-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

impl Figures {
    fn p(&self, p: f64) -> f64 {
        percentile(&self.transitions, p) * 1000.0
    }

    fn per_step(&self, bytes: u64) -> f64 {
        bytes as f64 / self.steps.max(1) as f64 / 1024.0
    }

    fn conflict_rate(&self) -> f64 {
        let puts = self.stats.prefixed_op("put");
        puts.conflicts as f64 / puts.count.max(1) as f64
    }

    pub fn table_header() -> String {
        [
            "| shape | runs x steps | wall / critical path | transition p50 / p99 | without job-slot waits p50 / p99 | CPU per step | run docs read / written per transition | all keys read / written per transition | conflicts on run docs | `status --json` | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        .join("\n")
    }

    pub fn table_row(&self, shape: Shape) -> String {
        if let Shape::Status(_) = shape {
            let mut ms = self.status_ms.clone();
            ms.sort_by(f64::total_cmp);
            return format!(
                "| {} | {} x 10 | | | | | | | | {:.0} ms (median of {}); {:.1} MB answer; {:.0} MiB peak RSS | {:.1} |",
                shape.label(),
                self.runs,
                percentile(&ms, 50.0),
                ms.len(),
                self.status_bytes as f64 / 1e6,
                self.status_rss_kib as f64 / 1024.0,
                self.load
            );
        }
        let runs = &self.stats;
        format!(
            "| {} | {} x {} | {:.2} s / {:.2} s = **{:.2}** | **{:.1} / {:.1} ms** | {:.1} / {:.1} ms | {:.1} ms | {:.0} / {:.0} KiB | {:.0} / {:.0} KiB | {:.0}% ({} of {}) | | {:.1} |",
            shape.label(),
            self.runs,
            self.steps / self.runs.max(1),
            self.wall,
            self.critical,
            self.wall / self.critical,
            self.p(50.0),
            self.p(99.0),
            percentile(&self.unqueued, 50.0) * 1000.0,
            percentile(&self.unqueued, 99.0) * 1000.0,
            self.cpu_secs * 1000.0 / self.steps.max(1) as f64,
            self.per_step(runs.prefixed_op("get").bytes),
            self.per_step(runs.prefixed_op("put").bytes),
            self.per_step(runs.op("get").bytes),
            self.per_step(runs.op("put").bytes),
            self.conflict_rate() * 100.0,
            runs.prefixed_op("put").conflicts,
            runs.prefixed_op("put").count,
            self.load,
        )
    }

    pub fn json(&self, shape: Shape) -> serde_json::Value {
        let mut ms = self.status_ms.clone();
        ms.sort_by(f64::total_cmp);
        serde_json::json!({
            "shape": shape.name(),
            "runs": self.runs,
            "steps": self.steps,
            "wall_s": self.wall,
            "critical_path_s": self.critical,
            "transition_p50_ms": self.p(50.0),
            "transition_p99_ms": self.p(99.0),
            "unqueued_transition_p50_ms": percentile(&self.unqueued, 50.0) * 1000.0,
            "unqueued_transition_p99_ms": percentile(&self.unqueued, 99.0) * 1000.0,
            "state_fs": self.fs,
            "stage_p50_ms": {
                "report": percentile(&self.stages[0], 50.0) * 1000.0,
                "dispatch": percentile(&self.stages[1], 50.0) * 1000.0,
                "start": percentile(&self.stages[2], 50.0) * 1000.0,
            },
            "cpu_per_step_ms": self.cpu_secs * 1000.0 / self.steps.max(1) as f64,
            "run_doc_read_bytes": self.stats.prefixed_op("get").bytes,
            "run_doc_written_bytes": self.stats.prefixed_op("put").bytes,
            "all_read_bytes": self.stats.op("get").bytes,
            "all_written_bytes": self.stats.op("put").bytes,
            "run_doc_puts": self.stats.prefixed_op("put").count,
            "run_doc_conflicts": self.stats.prefixed_op("put").conflicts,
            "status_ms_p50": percentile(&ms, 50.0),
            "status_bytes": self.status_bytes,
            "status_rss_kib": self.status_rss_kib,
            "load_average": self.load,
        })
    }
}

/// CPU seconds (user + system) of this process's children and their reaped descendants, from /proc: the handler,
/// and the runner processes it started and reaped.
fn children_cpu() -> f64 {
    let me = std::process::id().to_string();
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name may hold spaces: fields start after its closing parenthesis.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // rest[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..=17.
        if f.len() > 14 && f[1] == me {
            ticks += f[11..=14]
                .iter()
                .map(|v| v.parse::<u64>().unwrap_or(0))
                .sum::<u64>();
        }
    }
    ticks as f64 / tick
}

pub fn settings_for(dir: &Path, root: &Path, bin: &str, shape: Shape) -> Settings {
    let mut env: BTreeMap<&str, String> = BTreeMap::new();
    env.insert(
        "NIGHTSHIFT_STATE_DIR",
        dir.join("state").display().to_string(),
    );
    env.insert(
        "NIGHTSHIFT_CATALOG",
        dir.join("catalog").display().to_string(),
    );
    env.insert("NIGHTSHIFT_REPO_ROOT", root.display().to_string());
    env.insert("NIGHTSHIFT_RUNNER", format!("{bin} runner"));
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(dir.join("catalog/bench.yaml"), shape.catalog()).unwrap();
    Settings::from_lookup(|k| env.get(k).cloned().or_else(|| std::env::var(k).ok()))
        .unwrap()
        .absolutize()
}

fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_microseconds().unwrap() as f64 / 1e6
}

/// Runs a DAG shape (one nightly run, or `n` pull-request releases at once) to the end and measures it.
pub async fn dag(root: &Path, bin: &str, shape: Shape) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_for(dir.path(), root, bin, shape);
    let stats_file = dir.path().join("store-stats.tsv");
    let mut opts = StackOptions {
        handler: Some(HandlerCommand::new(bin, ["handler"])),
        run_timers: false,
        ..StackOptions::default()
    };
    // The handler (and the runners, which inherit its environment) record their store operations; this process
    // does not, so its polling below is not counted.
    opts.app_settings
        .insert(STORE_STATS_ENV.into(), stats_file.display().to_string());
    let stack = LocalStack::start(settings, opts)
        .await
        .expect("local stack");
    let expected = match shape {
        Shape::Environments(n) => n,
        _ => 1,
    };
    let cpu_before = children_cpu();
    // The handler's start-up is not the work: the log starts here.
    let _ = std::fs::remove_file(&stats_file);
    match shape {
        Shape::Environments(n) => {
            let releases = stack.host.bus().queue("releases").unwrap();
            for i in 1..=n {
                let body = format!(
                    r#"{{"schema":"nightshift.release/v1","product":"bench","environment":"pr-{i}","version":"1.0.{i}","requested_by":"bench"}}"#
                );
                releases
                    .send(NewMessage::new(body, format!("bench-release-{i}")))
                    .unwrap();
            }
        }
        _ => {
            let fired = stack.host.invoke_timer("nightly-scheduler").await.unwrap();
            assert!(fired.succeeded, "{fired:?}");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(900);
    let runs = loop {
        let runs = stack.app.repo.runs().await.unwrap();
        if runs.len() == expected && runs.iter().all(|r| r.status.is_finished()) {
            break runs;
        }
        assert!(
            Instant::now() < deadline,
            "{}: the runs did not finish",
            shape.name()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    // Runners reaped by the handler a moment after their result went out.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu_secs = children_cpu() - cpu_before;
    let stats = StoreStats::read(&stats_file, "runs/").unwrap();

    let mut f = Figures {
        runs: runs.len(),
        cpu_secs,
        stats,
        ..Figures::default()
    };
    let grants = slot_grants(&dir.path().join("state/logs/host.log"));
    let mut first_created: Option<DateTime<Utc>> = None;
    let mut last_finished: Option<DateTime<Utc>> = None;
    for run in &runs {
        assert_eq!(
            run.status,
            nightshift_core::run::RunStatus::Succeeded,
            "{}: {:?}",
            run.id,
            run.reason
        );
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
        let defs: indexmap::IndexMap<_, _> = run
            .steps
            .iter()
            .map(|(k, s)| (k.clone(), s.def.clone()))
            .collect();
        let (_, critical) = critical_path(&defs, |n| {
            let (a, b) = work[n.as_str()];
            secs(a, b)
        });
        f.critical = f.critical.max(critical);
        let (applied, job_started) = journal_times(&stack.app, &run.id).await;
        let granted = grants.get(run.id.as_str());
        for (name, s) in &run.steps {
            let last = s.def.needs.iter().max_by_key(|d| work[d.as_str()].1);
            if let Some(last) = last {
                let ready_at = work[last.as_str()].1;
                f.transitions.push(secs(ready_at, work[name.as_str()].0));
                let free_at = granted
                    .and_then(|g| g.get(name.as_str()))
                    .map_or(ready_at, |g| ready_at.max(*g));
                f.unqueued.push(secs(free_at, work[name.as_str()].0));
                if let (Some(a), Some(j)) =
                    (applied.get(last.as_str()), job_started.get(name.as_str()))
                {
                    f.stages[0].push(secs(ready_at, *a));
                    f.stages[1].push(secs(*a, *j));
                    f.stages[2].push(secs(*j, work[name.as_str()].0));
                }
            }
        }
        f.steps += run.steps.len();
        first_created = Some(first_created.map_or(run.created_at, |t| t.min(run.created_at)));
        let finished = run.finished_at.unwrap();
        last_finished = Some(last_finished.map_or(finished, |t| t.max(finished)));
    }
    f.transitions.sort_by(f64::total_cmp);
    f.unqueued.sort_by(f64::total_cmp);
    f.fs = file_system(dir.path());
    for stage in &mut f.stages {
        stage.sort_by(f64::total_cmp);
    }
    f.wall = secs(first_created.unwrap(), last_finished.unwrap());
    stack.shutdown().await;
    f
}

/// Run -> step -> when that step got a job slot it had waited for (the last time, for a step that waited twice),
/// from the host log's lines `<run>/<step> attempt <n> got a job slot at <time>`.
type Grants = BTreeMap<String, BTreeMap<String, DateTime<Utc>>>;

fn slot_grants(host_log: &Path) -> Grants {
    let mut granted = Grants::new();
    let log = std::fs::read_to_string(host_log).unwrap_or_default();
    for line in log.lines() {
        let Some((head, at)) = line.split_once(" got a job slot at ") else {
            continue;
        };
        let Some((run, step)) = head.rsplit(' ').nth(2).and_then(|w| w.split_once('/')) else {
            continue;
        };
        if let Ok(at) = at.trim().parse::<DateTime<Utc>>() {
            granted
                .entry(run.to_string())
                .or_default()
                .insert(step.to_string(), at);
        }
    }
    granted
}

/// The file system type of `path`, from /proc/mounts (the longest mount point that holds it).
pub fn file_system(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && path.starts_with(f[1])).then(|| (f[1].len(), f[2].to_string()))
        })
        .max()
        .map_or_else(|| "unknown".into(), |(_, fs)| fs)
}

/// From a run's journal, per step: when its last result was applied (`step-events`) and when its last job was
/// started (`step-dispatch`), as each handler's clock said.
async fn journal_times(
    app: &App,
    id: &nightshift_core::RunId,
) -> (
    BTreeMap<String, DateTime<Utc>>,
    BTreeMap<String, DateTime<Utc>>,
) {
    let (mut applied, mut started) = (BTreeMap::new(), BTreeMap::new());
    let key = nightshift_app::journal_key(id);
    let Some(journal) = app.repo.store().get(&key).await.unwrap() else {
        return (applied, started);
    };
    for line in journal
        .bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
    {
        let record: serde_json::Value = serde_json::from_slice(line).unwrap();
        let (Some(at), Some(event)) = (record["at"].as_str(), record.get("event")) else {
            continue;
        };
        let at: DateTime<Utc> = at.parse().unwrap();
        let step = event["step"].as_str().unwrap_or_default().to_string();
        match event["type"].as_str() {
            Some("step-succeeded") => {
                applied.insert(step, at);
            }
            Some("job-started") => {
                started.insert(step, at);
            }
            _ => {}
        }
    }
    (applied, started)
}

/// A finished run of the `status` shape's catalog, as the engine would have left it: planned, started, every step
/// started and succeeded.
fn finished_run(app: &App, i: usize, now: DateTime<Utc>) -> Run {
    let catalog = app.catalog().unwrap();
    let product = catalog.product("bench").unwrap();
    let env = EnvironmentName::parse(&format!("pr-{}", i % 20 + 1)).unwrap();
    let mut run = plan(PlanRequest {
        product,
        environment: &env,
        trigger: Trigger::Release {
            version: format!("1.0.{i}"),
            requested_by: "bench".into(),
            message_id: format!("status-{i}"),
            commit_time: None,
        },
        ttl: None,
        instance: &app.settings.instance,
        now,
    })
    .unwrap();
    let mut at = now;
    let mut pending = vec![Event::Start];
    while let Some(event) = pending.pop() {
        at += chrono::Duration::milliseconds(300);
        let out = engine::apply(&run, &event, at);
        run = out.run;
        for c in out.commands {
            if let Command::Dispatch(m) = c {
                pending.push(Event::StepSucceeded {
                    step: m.step.clone(),
                    attempt: m.attempt,
                    outputs: BTreeMap::from([(
                        "url".to_string(),
                        serde_json::json!(format!("https://{}.example.test", m.step)),
                    )]),
                });
                pending.push(Event::JobStarted {
                    job: JobName::for_attempt(&m.run_id, &m.step, m.attempt),
                    step: m.step,
                    attempt: m.attempt,
                });
            }
        }
    }
    assert!(run.status.is_finished(), "{:?}", run.status);
    run
}

/// `nightshift status --json` with `n` finished runs in the store: wall time, answer size, peak RSS.
pub fn status(root: &Path, bin: &str, shape: Shape, n: usize) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_for(dir.path(), root, bin, shape);
    let state = settings.state_dir.clone();
    let catalog = settings.catalog_dir.clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = App::new(nightshift_app::wiring::local(&settings), settings);
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    rt.block_on(async {
        for i in 0..n {
            let run = finished_run(&app, i, start + chrono::Duration::minutes(10 * i as i64));
            assert!(app.repo.create_run(&run).await.unwrap());
        }
    });
    let mut f = Figures {
        runs: n,
        steps: n * 10,
        ..Figures::default()
    };
    for i in 0..6 {
        let started = Instant::now();
        // Reaped below with wait4, which gives its own peak RSS.
        #[allow(clippy::zombie_processes)]
        let mut child = std::process::Command::new(bin)
            .args(["status", "--json"])
            .env("NIGHTSHIFT_STATE_DIR", &state)
            .env("NIGHTSHIFT_CATALOG", &catalog)
            .env("NIGHTSHIFT_REPO_ROOT", root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut out = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        let mut code = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // wait4 gives this child's own peak RSS (getrusage of all children would give the largest ever).
        let pid = unsafe { libc::wait4(child.id() as i32, &mut code, 0, &mut usage) };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        assert!(pid > 0 && code == 0, "status failed: {code}");
        let answer: serde_json::Value = serde_json::from_slice(&out).expect("JSON on stdout");
        assert!(answer.is_object());
        if i > 0 {
            f.status_ms.push(ms);
        }
        f.status_bytes = out.len();
        f.status_rss_kib = f.status_rss_kib.max(usage.ru_maxrss);
    }
    f
}
