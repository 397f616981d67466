//! Human output helpers (the `--json` forms print the use cases' reports as they are).

use chrono::{DateTime, Utc};
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Standard output can take no more (its reader has gone, or a write failed): the rest is dropped.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);
/// A write to standard output failed for another reason than a reader that has gone (a full disk).
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);

/// What `outln!` and `out!` write with. A reader that has gone (`nightshift status | head -1`) is not an error: the
/// rest of the output is dropped and the command goes on to its end with its own exit code, as the work it does
/// (following a run, a sweep) must not stop halfway because nobody reads any more. Any other failure is said once
/// on standard error and makes the command exit 1 ([`stdout_failed`]).
pub fn stdout_fmt(args: std::fmt::Arguments<'_>) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let written = io::stdout().lock().write_fmt(args);
    if let Err(e) = written {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            STDOUT_FAILED.store(true, Ordering::Relaxed);
            stderr_fmt(format_args!(
                "error: cannot write to standard output: {e}\n"
            ));
        }
    }
}

/// What `errln!` and `errout!` write with: a message that cannot be written to standard error is dropped.
pub fn stderr_fmt(args: std::fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// Whether some output was lost for another reason than a reader that has gone.
pub fn stdout_failed() -> bool {
    STDOUT_FAILED.load(Ordering::Relaxed)
}

pub fn secs(s: f64) -> String {
    if s >= 120.0 {
        format!("{}m{:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!("{s:.1}s")
    }
}

pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".into())
}

pub fn print_json<T: serde::Serialize>(v: &T) {
    outln!("{}", serde_json::to_string_pretty(v).expect("serializable"));
}

pub fn status_mark(status: &str) -> &'static str {
    match status {
        "succeeded" => "✓",
        "failed" => "✗",
        "cancelled" => "-",
        "skipped" => "·",
        "running" => "▸",
        "retrying" => "↻",
        "queued" | "waiting" => "…",
        _ => " ",
    }
}
