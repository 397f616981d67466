//! `-- cost`: where the CPU of one trivial step goes. Measures, one part at a time, the processes a local job is
//! made of (the job wrapper shell, the `nightshift runner` process, the step's own command) and the in-process
//! work on the run document that every transition repeats (JSON in and out, the store's SHA-256 version), for
//! run documents of a chain of 10 and of 400 steps.

use crate::catalogs::Shape;
use crate::measure::settings_for;
use chrono::{DateTime, Utc};
use nightshift_app::App;
use nightshift_core::engine::{self, Command, Event};
use nightshift_core::names::JobName;
use nightshift_core::planner::{plan, PlanRequest};
use nightshift_core::run::{Run, Trigger};
use sha2::Digest;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command as Process;

const REPEAT: u32 = 20;

/// CPU seconds of this process's reaped children so far.
fn children_cpu() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// CPU seconds of this thread so far.
fn thread_cpu() -> f64 {
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Mean CPU milliseconds of a process started `REPEAT` times.
fn process_ms(mut make: impl FnMut() -> Process) -> f64 {
    let before = children_cpu();
    for _ in 0..REPEAT {
        let status = make().status().expect("started");
        assert!(status.code().is_some(), "{status:?}");
    }
    (children_cpu() - before) * 1000.0 / REPEAT as f64
}

/// Mean CPU milliseconds of an in-process operation.
fn op_ms(mut f: impl FnMut()) -> f64 {
    let before = thread_cpu();
    for _ in 0..REPEAT {
        f();
    }
    (thread_cpu() - before) * 1000.0 / REPEAT as f64
}

/// A nightly run of the chain with every step but the last succeeded, as the engine leaves it.
fn mid_run(app: &App, now: DateTime<Utc>) -> Run {
    let catalog = app.catalog().unwrap();
    let product = catalog.product("bench").unwrap();
    let env = nightshift_core::EnvironmentName::parse("nightly").unwrap();
    let mut run = plan(PlanRequest {
        product,
        environment: &env,
        trigger: Trigger::Nightly {
            night: now.date_naive(),
            rebuild: 0,
        },
        ttl: None,
        instance: &app.settings.instance,
        now,
    })
    .unwrap();
    let last = run.steps.keys().last().cloned().unwrap();
    let mut pending = vec![Event::Start];
    while let Some(event) = pending.pop() {
        let out = engine::apply(&run, &event, now);
        run = out.run;
        for c in out.commands {
            if let Command::Dispatch(m) = c {
                pending.push(Event::JobStarted {
                    job: JobName::for_attempt(&m.run_id, &m.step, m.attempt),
                    step: m.step.clone(),
                    attempt: m.attempt,
                });
                if m.step != last {
                    pending.insert(
                        0,
                        Event::StepSucceeded {
                            step: m.step,
                            attempt: m.attempt,
                            outputs: BTreeMap::from([("id".to_string(), serde_json::json!("x"))]),
                        },
                    );
                }
            }
        }
    }
    run
}

pub fn breakdown(root: &Path, bin: &str) {
    println!("| part (CPU, mean of {REPEAT}) | chain of 10 | chain of 400 |");
    println!("|---|---|---|");
    let fork_true = process_ms(|| Process::new("true"));
    println!("| a `true` process (fork, exec, exit) | {fork_true:.2} ms | |");
    let wrapper = process_ms(|| {
        let mut p = Process::new("/bin/sh");
        p.args(["-c", nightshift_local::jobs::WRAPPER, "sh", "true"])
            .env("NIGHTSHIFT_JOB_DIR", std::env::temp_dir());
        p
    });
    println!(
        "| the job wrapper (`sh`, as `ProcessJobs` runs it) around `true` | {wrapper:.2} ms | |"
    );
    let version = process_ms(|| {
        let mut p = Process::new(bin);
        p.arg("--version");
        p
    });
    println!("| `nightshift --version` (the binary's start and exit) | {version:.2} ms | |");

    let mut runner = Vec::new();
    let mut parse = Vec::new();
    let mut write = Vec::new();
    let mut hash = Vec::new();
    let mut size = Vec::new();
    for n in [10, 400] {
        let shape = Shape::Chain(n);
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_for(dir.path(), root, bin, shape);
        let (state, catalog) = (settings.state_dir.clone(), settings.catalog_dir.clone());
        let app = App::new(nightshift_app::wiring::local(&settings), settings);
        let run = mid_run(&app, Utc::now());
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(app.repo.create_run(&run)).unwrap();
        let last = run.steps.keys().last().unwrap().to_string();
        let mut attempt = 0;
        runner.push(process_ms(|| {
            attempt += 1;
            let mut p = Process::new(bin);
            p.arg("runner")
                .env("NIGHTSHIFT_STATE_DIR", &state)
                .env("NIGHTSHIFT_CATALOG", &catalog)
                .env("NIGHTSHIFT_REPO_ROOT", root)
                .env("NIGHTSHIFT_RUN_ID", run.id.as_str())
                .env("NIGHTSHIFT_STEP", &last)
                .env("NIGHTSHIFT_ATTEMPT", attempt.to_string())
                .env("NIGHTSHIFT_JOB_DIR", dir.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            p
        }));
        let bytes = serde_json::to_vec_pretty(&run).unwrap();
        size.push(bytes.len());
        parse.push(op_ms(|| {
            let r: Run = serde_json::from_slice(&bytes).unwrap();
            std::hint::black_box(r);
        }));
        write.push(op_ms(|| {
            std::hint::black_box(serde_json::to_vec_pretty(&run).unwrap());
        }));
        hash.push(op_ms(|| {
            std::hint::black_box(sha2::Sha256::digest(&bytes));
        }));
    }
    println!(
        "| `nightshift runner` for the last step (a `true`), whole process | {:.2} ms | {:.2} ms |",
        runner[0], runner[1]
    );
    println!(
        "| run document size | {:.0} KiB | {:.0} KiB |",
        size[0] as f64 / 1024.0,
        size[1] as f64 / 1024.0
    );
    println!(
        "| parse the run document (serde_json) | {:.3} ms | {:.3} ms |",
        parse[0], parse[1]
    );
    println!(
        "| serialize it (pretty JSON) | {:.3} ms | {:.3} ms |",
        write[0], write[1]
    );
    println!(
        "| SHA-256 of it (the store's version, on every read and write) | {:.3} ms | {:.3} ms |",
        hash[0], hash[1]
    );
}
