//! `-- floor`: what the wide shapes would measure with no orchestration at all. One thread per core starts the
//! shapes' processes itself, back to back, as fast as it can: no store, no queue, no handler, no job slot. Whatever an
//! orchestrator adds comes on top of these figures, so a target below them cannot be met on this machine by any
//! design that runs a step as a process (a container on Azure).
//!
//! A step starts when its process has been executed: `Command::spawn` returns once the child has called `execve`
//! (the standard library spawns with `posix_spawn`, whose parent waits for the child's exec), so the time a spawn
//! returns is the step's start. Two kinds of step:
//! - **command only**: the step's own command (`true`, `sleep 0.2`) and nothing else;
//! - **with a runner**: a `nightshift --version` process too (the cheapest start and exit of the binary every
//!   local job runs as its runner), started just before the command; the step starts when it has executed.
//!
//! Per kind: fan-out of 200 (every step starts at once; transition = the step's start since the root finished);
//! layered 10x20 of `true` (each layer starts when the whole previous layer has exited; transition = a step's start
//! since its layer's last dependency exited); layered 10x20 of `sleep 0.2` (wall time over the critical path: 10 times
//! one `sleep 0.2` process's own wall time, alone, as the real benchmark's critical path sums the steps' own
//! working times). Each figure is the median of 5 repetitions.

use crate::measure::percentile;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const REPEAT: usize = 5;

#[derive(Clone, Copy)]
enum Kind {
    CommandOnly,
    WithRunner,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::CommandOnly => "command only",
            Kind::WithRunner => "with a runner (`nightshift --version`)",
        }
    }
}

/// Starts one step: its processes, still running, and the offset (ms) from `t0` at which the step counts as
/// started (its first process executed). The runner stand-in and the command run side by side, which costs no
/// more than a runner that starts its command once it has read its assignment: a floor.
fn start_step(kind: Kind, bin: &str, command: &[&str], t0: Instant, into: &mut Vec<Child>) -> f64 {
    let mut started = None;
    if let Kind::WithRunner = kind {
        into.push(
            Command::new(bin)
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("nightshift --version starts"),
        );
        started = Some(t0.elapsed());
    }
    into.push(
        Command::new(command[0])
            .args(&command[1..])
            .spawn()
            .expect("the step's command starts"),
    );
    started.unwrap_or_else(|| t0.elapsed()).as_secs_f64() * 1000.0
}

fn wait_all(children: Vec<Child>) {
    for mut c in children {
        let status = c.wait().expect("waited");
        assert!(status.success(), "a step failed: {status}");
    }
}

/// Starts `width` steps at once from `t0`, split over one thread per core; their start offsets (ms), and their
/// processes once all have exited.
fn start_at_once(kind: Kind, bin: &str, width: usize, command: &[&str], t0: Instant) -> Vec<f64> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread: Vec<(Vec<f64>, Vec<Child>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mine = (t..width).step_by(threads).count();
                    let (mut starts, mut children) = (Vec::new(), Vec::with_capacity(2 * mine));
                    for _ in 0..mine {
                        starts.push(start_step(kind, bin, command, t0, &mut children));
                    }
                    (starts, children)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut starts = Vec::with_capacity(width);
    for (s, children) in per_thread {
        starts.extend(s);
        wait_all(children);
    }
    starts
}

/// A fan-out: `width` steps of `true` at once; the offsets (ms) at which each had started.
fn fan_out(kind: Kind, bin: &str, width: usize) -> Vec<f64> {
    start_at_once(kind, bin, width, &["true"], Instant::now())
}

/// Runs `layers` layers of `width` steps, each layer once the previous has exited. Returns every step's start
/// offset (ms) from the moment its layer could start, and the whole wall time.
fn layered(
    kind: Kind,
    bin: &str,
    layers: usize,
    width: usize,
    command: &[&str],
) -> (Vec<f64>, Duration) {
    let t0 = Instant::now();
    let mut starts = Vec::with_capacity(layers * width);
    for _ in 0..layers {
        starts.extend(start_at_once(kind, bin, width, command, Instant::now()));
    }
    (starts, t0.elapsed())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// p50 and p99 of each repetition's offsets, each the median over the repetitions.
fn spread(mut one: impl FnMut() -> Vec<f64>) -> (f64, f64) {
    let (mut p50, mut p99) = (Vec::new(), Vec::new());
    for _ in 0..REPEAT {
        let mut v = one();
        v.sort_by(f64::total_cmp);
        p50.push(percentile(&v, 50.0));
        p99.push(percentile(&v, 99.0));
    }
    (median(p50), median(p99))
}

pub fn floors(bin: &str) {
    println!("| shape, no orchestration ({REPEAT} repetitions, median) | kind of step | transition p50 / p99 | wall / critical path |");
    println!("|---|---|---|---|");
    for kind in [Kind::CommandOnly, Kind::WithRunner] {
        let (p50, p99) = spread(|| fan_out(kind, bin, 200));
        println!(
            "| fan-out of 200 (`true`) | {} | {p50:.1} / {p99:.1} ms | |",
            kind.label()
        );
        let (p50, p99) = spread(|| layered(kind, bin, 10, 20, &["true"]).0);
        println!(
            "| layered 10x20 (`true`) | {} | {p50:.1} / {p99:.1} ms | |",
            kind.label()
        );
        let critical = 10.0
            * median(
                (0..REPEAT)
                    .map(|_| {
                        let t = Instant::now();
                        wait_all(vec![Command::new("sleep").arg("0.2").spawn().unwrap()]);
                        t.elapsed().as_secs_f64()
                    })
                    .collect(),
            );
        let ratios: Vec<f64> = (0..REPEAT)
            .map(|_| {
                layered(kind, bin, 10, 20, &["sleep", "0.2"])
                    .1
                    .as_secs_f64()
                    / critical
            })
            .collect();
        println!(
            "| layered 10x20 (`sleep 0.2`) | {} | | **{:.3}** |",
            kind.label(),
            median(ratios)
        );
    }
}
