//! Orchestration under wider and busier work (issue 9): generates catalogs of steps that do nothing and runs each
//! shape end to end on the embedded default (the local Functions host driving the real handler process, every
//! step attempt a real `nightshift runner` process), then reports, per shape:
//! - wall time / critical path (the run's wall time over the longest dependency chain of the steps' own working
//!   times; only meaningful where steps take time, as in `layered10x20-sleep`);
//! - transition p50 / p99: from a step's last dependency finishing its work to the step's runner starting work;
//! - CPU per step: the user+system CPU of the handler and every runner process (the handler's own and its reaped
//!   children's, from /proc), from the moment the work is sent until it finishes, over the number of steps;
//! - store bytes read and written per transition (one transition per step), and the share of conditional writes
//!   lost (conflicts), on the run documents (keys under `runs/`), counted by the `CountingStore` decorator
//!   (`NIGHTSHIFT_STORE_STATS`);
//! - for `status` shapes: `nightshift status --json` wall time (median of 5 after a warm-up), answer size, and the
//!   process's peak RSS.
//!
//! `cargo bench -p nightshift --bench shapes [-- SHAPE...]`, shapes named as in the table (`chain400`, `fanout200`,
//! `layered10x20`, `layered10x20-sleep`, `envs100`, `status2000`, ...); no name: every shape. Prints a markdown
//! table and, last, one JSON line per shape. `-- cost`: the CPU of one trivial step, part by part (see cost.rs). `-- floor`: the same
//! wide shapes' processes started with no orchestration at all, the least any design could measure (see floor.rs).

mod catalogs;
mod cost;
mod floor;
mod measure;

use catalogs::Shape;
use measure::{dag, status, Figures};
use std::path::PathBuf;

fn main() {
    let names: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let bin = env!("CARGO_BIN_EXE_nightshift").to_string();
    if names.iter().any(|n| n == catalogs::COST) {
        cost::breakdown(&root, &bin);
        return;
    }
    if names.iter().any(|n| n == catalogs::FLOOR) {
        floor::floors(&bin);
        return;
    }
    let all = Shape::all();
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| !all.iter().any(|s| &s.name() == *n))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<String> = all.iter().map(Shape::name).collect();
        eprintln!(
            "unknown shape(s) {unknown:?}: choose among {}",
            known.join(", ")
        );
        std::process::exit(2);
    }
    let shapes: Vec<Shape> = all
        .into_iter()
        .filter(|s| names.is_empty() || names.contains(&s.name()))
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut rows: Vec<(Shape, Figures)> = Vec::new();
    for shape in shapes {
        eprintln!("{}: running", shape.name());
        let mut figures = match shape {
            Shape::Status(n) => status(&root, &bin, shape, n),
            _ => rt.block_on(dag(&root, &bin, shape)),
        };
        figures.load = measure::load_average();
        eprintln!("{}: {}", shape.name(), figures.json(shape));
        rows.push((shape, figures));
    }
    println!();
    println!("{}", Figures::table_header());
    for (shape, f) in &rows {
        println!("{}", f.table_row(*shape));
    }
    println!();
    for (shape, f) in &rows {
        println!("{}", f.json(*shape));
    }
}
