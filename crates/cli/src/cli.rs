//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "nightshift",
    version,
    about = "Fresh, seeded environments every morning and per pull request, destroyed on expiry."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Where nightshift keeps its local state (queues, journals, jobs, the local cloud).
    #[arg(
        long,
        global = true,
        env = "NIGHTSHIFT_STATE_DIR",
        default_value = ".nightshift"
    )]
    pub state_dir: PathBuf,
    /// The catalog directory (one YAML file per product).
    #[arg(
        long,
        global = true,
        env = "NIGHTSHIFT_CATALOG",
        default_value = "catalog"
    )]
    pub catalog: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run tonight's nightly environment locally, end to end, and wait until it is ready.
    Up(UpArgs),
    /// Show runs, environments and rejected messages.
    Status(StatusArgs),
    /// Destroy expired environments' resource groups.
    Sweep(SweepArgs),
    /// Print each product's DAG and its critical path.
    Plan(PlanArgs),
    /// Check the catalog and the files it names.
    Validate,
    /// Write a product's technical dossier (flow matrix, dependencies, diagram, requirements), or compare two builds.
    Dossier(DossierArgs),
    /// Run one step attempt (what a job executes; started by nightshift, not by hand).
    #[command(hide = true)]
    Runner,
    /// Serve the custom handler (the same code as the `handler` binary).
    #[command(hide = true)]
    Handler,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Only this product (default: every local product with a nightly environment).
    #[arg(long)]
    pub product: Option<String>,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Print the final status as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Decide and report, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Evaluate expiry at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// Delete at most this many resource groups (default NIGHTSHIFT_SWEEP_CAP, or 20).
    #[arg(long)]
    pub cap: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Only this product.
    #[arg(long)]
    pub product: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DossierArgs {
    /// The product, as named in the catalog.
    #[arg(required_unless_present = "diff")]
    pub product: Option<String>,
    /// Only this environment (with its last successful run's URLs, expiry and version); default: every
    /// environment, with values per environment where they differ.
    #[arg(long)]
    pub environment: Option<String>,
    /// Write the dossier into this directory instead of printing it.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// md or html (html embeds the diagram's renderer from the local npm package mermaid).
    #[arg(long, default_value = "md", value_parser = ["md", "html"])]
    pub format: String,
    /// fr (the template's language) or en.
    #[arg(long, default_value = "fr", value_parser = ["fr", "en"])]
    pub lang: String,
    /// Show what changed between two runs' stored dossiers.
    #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"], conflicts_with_all = ["product", "environment", "output", "format"])]
    pub diff: Option<Vec<String>>,
    /// With --diff: print the changes as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}: give a time like 2026-11-22T09:00:00Z"))
}
