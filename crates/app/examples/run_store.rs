//! A small harness for the run store (docs/architecture.md): the same workloads applied through the run document
//! rewritten with a conditional write (the design before the journals, replayed here) and through `Repo` (the
//! journal), on `FsStore` in a temporary directory. Prints, per shape, bytes read and written per transition,
//! conflicts and transition times. Not a test: speed is measured here, never asserted.
//!
//! `cargo run --release -p nightshift-app --example run_store [-- --writers 8]`

use chrono::{DateTime, Duration, TimeZone, Utc};
use nightshift_app::repo::{run_key, Repo};
use nightshift_core::catalog::Catalog;
use nightshift_core::engine::{self, Event};
use nightshift_core::names::{EnvironmentName, JobName, StepName};
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::ports::{PortError, Precondition, Store, Versioned};
use nightshift_core::run::{Run, Trigger};
use nightshift_local::store::FsStore;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Default)]
struct Counts {
    read: AtomicU64,
    written: AtomicU64,
    conflicts: AtomicU64,
}

struct Counting {
    inner: FsStore,
    counts: Arc<Counts>,
}

#[async_trait::async_trait]
impl Store for Counting {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError> {
        let got = self.inner.get(key).await?;
        let n = got.as_ref().map(|v| v.bytes.len()).unwrap_or_default();
        self.counts.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(got)
    }
    async fn put(&self, key: &str, bytes: Vec<u8>, pre: Precondition) -> Result<String, PortError> {
        self.counts
            .written
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let out = self.inner.put(key, bytes, pre).await;
        if matches!(out, Err(PortError::Conflict(_))) {
            self.counts.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        out
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.inner.delete(key).await
    }
    async fn create_appendable(&self, key: &str, first: Vec<u8>) -> Result<bool, PortError> {
        self.counts
            .written
            .fetch_add(first.len() as u64, Ordering::Relaxed);
        self.inner.create_appendable(key, first).await
    }
    async fn append(&self, key: &str, record: Vec<u8>) -> Result<Option<u64>, PortError> {
        self.counts
            .written
            .fetch_add(record.len() as u64, Ordering::Relaxed);
        self.inner.append(key, record).await
    }
    async fn read_from(&self, key: &str, offset: u64) -> Result<Option<Vec<u8>>, PortError> {
        let got = self.inner.read_from(key, offset).await?;
        let n = got.as_ref().map(Vec::len).unwrap_or_default();
        self.counts.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(got)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Design {
    /// The run document re-read and rewritten with a conditional write per event, retried on conflict.
    Document,
    /// The event journal (`Repo`).
    Journal,
}

/// One writer: a process of its own (its own cache).
#[derive(Clone)]
struct Writer {
    design: Design,
    store: Arc<dyn Store>,
    repo: Repo,
}

impl Writer {
    async fn create(&self, run: &Run) {
        match self.design {
            Design::Journal => {
                self.repo.create_run(run).await.unwrap();
            }
            Design::Document => {
                let bytes = serde_json::to_vec_pretty(run).unwrap();
                self.store
                    .put(&run_key(&run.id), bytes, Precondition::Absent)
                    .await
                    .unwrap();
            }
        }
    }

    async fn apply(&self, run: &Run, event: &Event, now: DateTime<Utc>) {
        match self.design {
            Design::Journal => {
                self.repo.apply(&run.id, event, now).await.unwrap();
            }
            Design::Document => loop {
                let key = run_key(&run.id);
                let got = self.store.get(&key).await.unwrap().unwrap();
                let current: Run = serde_json::from_slice(&got.bytes).unwrap();
                let out = engine::apply(&current, event, now);
                if !out.changed {
                    return;
                }
                let bytes = serde_json::to_vec_pretty(&out.run).unwrap();
                match self
                    .store
                    .put(&key, bytes, Precondition::Version(got.version))
                    .await
                {
                    Ok(_) => return,
                    Err(PortError::Conflict(_)) => continue,
                    Err(e) => panic!("{e}"),
                }
            },
        }
    }
}

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 2, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn step(n: usize) -> StepName {
    StepName::parse(&format!("s{n:03}")).unwrap()
}

/// `layers` layers of `width` steps, each step needing every step of the layer before.
fn planned(layers: usize, width: usize) -> Run {
    let mut yaml =
        String::from("schema: nightshift.catalog/v1\nproduct: shape\nplatform: azure\nsteps:\n");
    for l in 0..layers {
        for w in 0..width {
            let i = l * width + w;
            let needs: Vec<String> = if l == 0 {
                Vec::new()
            } else {
                ((l - 1) * width..l * width)
                    .map(|j| format!("s{j:03}"))
                    .collect()
            };
            let needs = if needs.is_empty() {
                String::new()
            } else {
                format!("needs: [{}], ", needs.join(", "))
            };
            yaml.push_str(&format!(
                "  s{i:03}: {{ {needs}smoke: {{ command: [\"true\"] }} }}\n"
            ));
        }
    }
    yaml.push_str("environments:\n  pr: { kind: pull-request }\n");
    let catalog = Catalog::parse_files(&[("catalog/shape.yaml".into(), yaml)]).unwrap();
    planner::plan(PlanRequest {
        product: catalog.product("shape").unwrap(),
        environment: &EnvironmentName::parse("pr-1").unwrap(),
        trigger: Trigger::Release {
            version: "1.0.0".into(),
            requested_by: "harness".into(),
            message_id: "m".into(),
            commit_time: None,
        },
        ttl: None,
        instance: "nightshift-harness",
        now: t(0),
    })
    .unwrap()
}

struct Figures {
    transitions: usize,
    read: u64,
    written: u64,
    conflicts: u64,
    p50_ms: f64,
    p99_ms: f64,
    wall_ms: f64,
}

/// Runs the shape: each layer's steps are started and finished by `writers` concurrent writers.
async fn measure(design: Design, layers: usize, width: usize, writers: usize) -> Figures {
    let dir = tempfile::tempdir().unwrap();
    let counts = Arc::new(Counts::default());
    let store: Arc<dyn Store> = Arc::new(Counting {
        inner: FsStore::new(dir.path()),
        counts: counts.clone(),
    });
    let writer = || Writer {
        design,
        store: store.clone(),
        repo: Repo::new(store.clone()),
    };
    let run = planned(layers, width);
    let first = writer();
    first.create(&run).await;
    first.apply(&run, &Event::Start, t(0)).await;
    let pool: Vec<Writer> = (0..writers).map(|_| writer()).collect();
    let times = Arc::new(Mutex::new(Vec::new()));
    let (read0, written0) = (
        counts.read.load(Ordering::Relaxed),
        counts.written.load(Ordering::Relaxed),
    );
    let wall = Instant::now();
    for l in 0..layers {
        let steps: Vec<usize> = (l * width..(l + 1) * width).collect();
        let chunks: Vec<Vec<usize>> = (0..writers)
            .map(|w| steps.iter().copied().skip(w).step_by(writers).collect())
            .collect();
        let tasks: Vec<_> = chunks
            .into_iter()
            .zip(pool.iter().cloned())
            .map(|(mine, w)| {
                let (run, times) = (run.clone(), times.clone());
                tokio::spawn(async move {
                    for i in mine {
                        for (k, e) in [
                            Event::JobStarted {
                                step: step(i),
                                attempt: 1,
                                job: JobName::for_attempt(&run.id, &step(i), 1),
                            },
                            Event::StepSucceeded {
                                step: step(i),
                                attempt: 1,
                                outputs: BTreeMap::new(),
                            },
                        ]
                        .iter()
                        .enumerate()
                        {
                            let start = Instant::now();
                            w.apply(&run, e, t(1 + 2 * i as i64 + k as i64)).await;
                            times
                                .lock()
                                .unwrap()
                                .push(start.elapsed().as_secs_f64() * 1e3);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }
    let wall_ms = wall.elapsed().as_secs_f64() * 1e3;
    let mut times = times.lock().unwrap().clone();
    times.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    Figures {
        transitions: times.len(),
        read: counts.read.load(Ordering::Relaxed) - read0,
        written: counts.written.load(Ordering::Relaxed) - written0,
        conflicts: counts.conflicts.load(Ordering::Relaxed),
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        wall_ms,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let writers = args
        .iter()
        .position(|a| a == "--writers")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(8usize);
    println!("writers: {writers} (each with a cache of its own, as separate processes)");
    println!(
        "| shape | design | transitions | read B/transition | written B/transition | conflicts | p50 ms | p99 ms | wall ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let shapes = [
        ("chain 10", 10, 1),
        ("chain 400", 400, 1),
        ("fan-out 200", 1, 200),
        ("layered 10x20", 10, 20),
    ];
    for (name, layers, width) in shapes {
        for design in [Design::Document, Design::Journal] {
            let f = measure(design, layers, width, writers).await;
            let n = f.transitions as u64;
            println!(
                "| {name} | {} | {n} | {} | {} | {} ({:.0}%) | {:.2} | {:.2} | {:.0} |",
                match design {
                    Design::Document => "document + CAS",
                    Design::Journal => "journal",
                },
                f.read / n,
                f.written / n,
                f.conflicts,
                100.0 * f.conflicts as f64 / (n + f.conflicts) as f64,
                f.p50_ms,
                f.p99_ms,
                f.wall_ms
            );
        }
    }
    // What hashing every read costs (FsStore's versions are the SHA-256 of the content).
    for size in [16 * 1024, 600 * 1024] {
        let bytes = vec![b'x'; size];
        let start = Instant::now();
        let rounds = 50;
        for _ in 0..rounds {
            std::hint::black_box(sha2_hex(&bytes));
        }
        println!(
            "sha256 of {} KiB: {:.3} ms",
            size / 1024,
            start.elapsed().as_secs_f64() * 1e3 / rounds as f64
        );
    }
}

fn sha2_hex(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}
