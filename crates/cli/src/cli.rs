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
    /// Run tonight's nightly environment locally, end to end, and wait until it and every run in flight finish.
    Up(UpArgs),
    /// Run the local Functions host and the handler until Ctrl-C: timers, queues, and HTTP (api/status).
    Serve(ServeArgs),
    /// Deploy a version into an environment (creates a pull-request environment on first use).
    Release(ReleaseArgs),
    /// The pull request closed: destroy its environment now.
    Close(TargetArgs),
    /// Destroy an environment now.
    Destroy(TargetArgs),
    /// Push an environment's expiry later: --by 2d, or --until TIME.
    Extend(ExtendArgs),
    /// Keep an environment (a failed one, for debugging) past its expiry: --for 3d --reason TEXT.
    Keep(KeepArgs),
    /// List environments a page at a time: kind, status, version, expiry and why, URLs, recent runs.
    Environments(PageArgs),
    /// Print a run's stored step logs.
    Logs(LogsArgs),
    /// Write a run's debug bundle (run document, logs, results, outputs, plan, host log), secrets redacted.
    Bundle(BundleArgs),
    /// Show the newest runs (a page at a time), environments and rejected messages.
    Status(StatusArgs),
    /// Destroy expired environments' resource groups.
    Sweep(SweepArgs),
    /// Print each product's DAG and its critical path.
    Plan(PlanArgs),
    /// Delivery metrics over the journal: deployments, success rate, durations, recovery, rollbacks, checks.
    Metrics(MetricsArgs),
    /// Check the catalog and the files it names.
    Validate,
    /// Check every setting, reachability and permission this mode needs; exit 1 on any failure.
    Doctor(DoctorArgs),
    /// Build the Functions zip (host.json, function folders, the static handler binary) that Terraform deploys.
    Package(PackageArgs),
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
    /// The HTTP port of the local host it starts (api/status, admin); if taken, a free one. 0: any free port.
    #[arg(long, default_value_t = 7071)]
    pub port: u16,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The HTTP port: http://127.0.0.1:PORT/api/status. 0 picks a free port.
    #[arg(long, default_value_t = 7071)]
    pub port: u16,
}

/// What every lifecycle message command takes.
#[derive(Debug, Args, Clone)]
pub struct SendArgs {
    /// Who asks (journaled with the action). Default: $USER@hostname.
    #[arg(long, value_name = "WHO")]
    pub requested_by: Option<String>,
    /// The message's id, its idempotency key: the same id sent twice is one action. Default: a fresh one.
    #[arg(long, value_name = "ID")]
    pub message_id: Option<String>,
    /// Wait for the outcome: exit 0 only when the environment reached the state asked for, 1 on a rejection.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub timeout: u64,
    /// With --wait, when no `nightshift serve` runs: the HTTP port of the local host it starts (0: any).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    pub product: String,
    pub environment: String,
    pub version: String,
    /// How long a pull-request environment lives (e.g. 3d, 12h); default its catalog lifetime.
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    #[command(flatten)]
    pub send: SendArgs,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    pub product: String,
    pub environment: String,
    #[command(flatten)]
    pub send: SendArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("when").required(true).args(["by", "until"])))]
pub struct ExtendArgs {
    pub product: String,
    pub environment: String,
    /// Push the expiry this much later (e.g. 2d, 12h).
    #[arg(long, value_name = "DURATION")]
    pub by: Option<String>,
    /// Set the expiry to this time (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = parse_time)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    #[command(flatten)]
    pub send: SendArgs,
}

#[derive(Debug, Args)]
pub struct KeepArgs {
    pub product: String,
    pub environment: String,
    /// How long to keep it from now (e.g. 3d).
    #[arg(long = "for", value_name = "DURATION")]
    pub for_: String,
    /// Why (shown in `environments` and `status`).
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub send: SendArgs,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    pub run: String,
    /// Only this step (default: every step).
    pub step: Option<String>,
    /// Only this attempt (default: every attempt).
    #[arg(long)]
    pub attempt: Option<u32>,
}

#[derive(Debug, Args)]
pub struct BundleArgs {
    pub run: String,
    /// Where to write the bundle (a .tar.gz).
    #[arg(short = 'o', long = "output", value_name = "FILE.tar.gz")]
    pub output: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct PackageArgs {
    /// The handler binary: a static Linux x86_64 build (target x86_64-unknown-linux-musl).
    #[arg(long)]
    pub handler: std::path::PathBuf,
    /// Where host.json and function-definitions/ are.
    #[arg(long, default_value = ".")]
    pub root: std::path::PathBuf,
    /// The zip to write.
    #[arg(long, default_value = "nightshift-functions.zip")]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[arg(long)]
    pub json: bool,
    /// Show at most this many runs, the newest (1 to 500).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub limit: u16,
    /// Continue with the runs older than the last page (the `next_cursor` it gave).
    #[arg(long, value_name = "TOKEN")]
    pub cursor: Option<String>,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    #[arg(long)]
    pub json: bool,
    /// Show at most this many environments, in name order (1 to 500).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub limit: u16,
    /// Continue after the last page (the `next_cursor` it gave).
    #[arg(long, value_name = "TOKEN")]
    pub cursor: Option<String>,
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
pub struct MetricsArgs {
    /// Only runs created within this period before now (s, m, h, d or w, as in 30d).
    #[arg(long, default_value = "30d", value_parser = parse_period)]
    pub since: nightshift_core::Ttl,
    /// Only this product.
    #[arg(long)]
    pub product: Option<String>,
    /// Only this environment (as in pr-123 or nightly).
    #[arg(long)]
    pub environment: Option<String>,
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

fn parse_period(s: &str) -> Result<nightshift_core::Ttl, String> {
    nightshift_core::Ttl::parse(s).map_err(|e| e.to_string())
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{e}: give a time like 2026-11-22T09:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("nightshift").chain(line.split_whitespace()))
    }

    fn command(line: &str) -> Command {
        parse(line)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
            .command
    }

    #[test]
    fn release_takes_product_environment_version_and_every_send_flag() {
        let Command::Release(a) = command(
            "release orthense-demo pr-7 1.4.2 --ttl 3d --requested-by ci --message-id m-1 --wait --timeout 60 --port 0 --json",
        ) else {
            panic!("not a release")
        };
        assert_eq!(
            (
                a.product.as_str(),
                a.environment.as_str(),
                a.version.as_str()
            ),
            ("orthense-demo", "pr-7", "1.4.2")
        );
        assert_eq!(a.ttl.as_deref(), Some("3d"));
        assert_eq!(a.send.requested_by.as_deref(), Some("ci"));
        assert_eq!(a.send.message_id.as_deref(), Some("m-1"));
        assert!(a.send.wait && a.send.json);
        assert_eq!((a.send.timeout, a.send.port), (60, 0));
        let Command::Release(a) = command("release p pr-1 1.0.0") else {
            panic!()
        };
        assert!(!a.send.wait && a.send.requested_by.is_none() && a.ttl.is_none());
        assert!(parse("release p pr-1").is_err(), "the version is required");
    }

    #[test]
    fn close_and_destroy_take_product_and_environment() {
        assert!(
            matches!(command("close p pr-7 --wait"), Command::Close(a) if a.send.wait && a.environment == "pr-7")
        );
        assert!(
            matches!(command("destroy p pr-7 --requested-by alice"), Command::Destroy(a) if a.send.requested_by.as_deref() == Some("alice"))
        );
        assert!(parse("close p").is_err());
    }

    #[test]
    fn extend_takes_exactly_one_of_by_or_until() {
        assert!(
            matches!(command("extend p pr-7 --by 2d"), Command::Extend(a) if a.by.as_deref() == Some("2d") && a.until.is_none())
        );
        assert!(
            matches!(command("extend p pr-7 --until 2026-12-09T18:00:00Z --wait"), Command::Extend(a) if a.until.is_some() && a.send.wait)
        );
        assert!(parse("extend p pr-7").is_err(), "one of them is required");
        assert!(parse("extend p pr-7 --by 2d --until 2026-12-09T18:00:00Z").is_err());
        assert!(parse("extend p pr-7 --until tomorrow").is_err());
    }

    #[test]
    fn keep_needs_a_duration_and_a_reason() {
        let Command::Keep(a) = command("keep p pr-7 --for 3d --reason flaky") else {
            panic!()
        };
        assert_eq!((a.for_.as_str(), a.reason.as_str()), ("3d", "flaky"));
        assert!(parse("keep p pr-7 --for 3d").is_err());
        assert!(parse("keep p pr-7 --reason flaky").is_err());
    }

    #[test]
    fn serve_up_environments_logs_and_bundle_parse_their_flags() {
        assert!(matches!(command("serve"), Command::Serve(a) if a.port == 7071));
        assert!(matches!(command("serve --port 0"), Command::Serve(a) if a.port == 0));
        assert!(
            matches!(command("up --json --port 0 --timeout 30 --product demo"), Command::Up(a) if a.json && a.port == 0 && a.timeout == 30)
        );
        assert!(matches!(command("up"), Command::Up(a) if a.port == 7071));
        assert!(
            matches!(command("environments --json"), Command::Environments(a) if a.json && a.limit == 50 && a.cursor.is_none())
        );
        assert!(
            matches!(command("environments --limit 5 --cursor demo/pr-1"), Command::Environments(a) if a.limit == 5 && a.cursor.as_deref() == Some("demo/pr-1"))
        );
        assert!(
            matches!(command("status --json --limit 3 --cursor T"), Command::Status(a) if a.json && a.limit == 3 && a.cursor.as_deref() == Some("T"))
        );
        assert!(matches!(command("status"), Command::Status(a) if a.limit == 20));
        assert!(parse("status --limit 0").is_err());
        assert!(parse("status --limit 501").is_err());
        assert!(
            matches!(command("logs r1"), Command::Logs(a) if a.step.is_none() && a.attempt.is_none())
        );
        assert!(
            matches!(command("logs r1 smoke --attempt 2"), Command::Logs(a) if a.step.as_deref() == Some("smoke") && a.attempt == Some(2))
        );
        assert!(
            matches!(command("bundle r1 -o out.tar.gz"), Command::Bundle(a) if a.output.ends_with("out.tar.gz"))
        );
        assert!(matches!(
            command("bundle r1 --output b.tar.gz --state-dir s"),
            Command::Bundle(_)
        ));
        assert!(parse("bundle r1").is_err(), "-o is required");
        assert!(parse("logs r1 --attempt x").is_err());
    }
}
