//! The `nightshift` CLI: `up`, `serve`, the lifecycle verbs (`release`, `close`, `destroy`, `extend`, `keep`),
//! `environments`, `logs`, `bundle`, `status`, `metrics`, `sweep`, `plan`, `validate`, `dossier`, and the `runner` and `handler` entry
//! points that jobs and the local Functions host start.

/// `println!` for the command's output: survives a reader that has gone ([`output::stdout_fmt`]).
macro_rules! outln {
    () => {
        $crate::output::stdout_fmt(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::stdout_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the command's output ([`output::stdout_fmt`]).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::stdout_fmt(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics ([`output::stderr_fmt`]).
macro_rules! errln {
    () => {
        $crate::output::stderr_fmt(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::stderr_fmt(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub mod cli;
pub mod commands;
pub mod local_stack;
pub mod output;
pub mod progress;
pub mod serve_lock;
pub mod session;

use clap::Parser;

/// Exit codes: 0 done, 1 the work failed (a failed run, a catalog error), 2 bad usage.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    init_tracing(&cli);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let runner = matches!(cli.command, cli::Command::Runner);
    let code = match rt.block_on(commands::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            errln!("error: {e:#}");
            1
        }
    };
    // Output that was lost (not merely unread) fails a command that otherwise succeeded.
    let code = if code == 0 && output::stdout_failed() {
        1
    } else {
        code
    };
    if runner {
        nightshift_app::runner::record_exit(code);
    }
    code
}

fn init_tracing(cli: &cli::Cli) {
    use tracing_subscriber::EnvFilter;
    if matches!(cli.command, cli::Command::Handler) {
        // Under a Functions host: stdout is information, stderr errors only.
        return nightshift_handlers::logging::init();
    }
    let default = match cli.command {
        cli::Command::Handler | cli::Command::Runner => "info",
        _ => "warn",
    };
    let filter =
        EnvFilter::try_from_env("NIGHTSHIFT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
