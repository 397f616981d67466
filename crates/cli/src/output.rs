//! Human output helpers (the `--json` forms print the use cases' reports as they are).

use chrono::{DateTime, Utc};

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
    println!("{}", serde_json::to_string_pretty(v).expect("serializable"));
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
