//! One line per run and step change, as `up`, `serve` and `--wait` print them: a run that appears or changes
//! status, a step that starts, retries, succeeds or fails. Steps that have not started yet say nothing.

use crate::output::{secs, status_mark};
use nightshift_core::run::Run;
use std::collections::BTreeMap;
use std::time::Instant;

pub struct Progress {
    started: Instant,
    runs: BTreeMap<String, String>,
    steps: BTreeMap<(String, String), String>,
    /// Print run lines (serve: yes; up's own format: only when it follows more than one run).
    pub run_lines: bool,
}

impl Progress {
    pub fn new(run_lines: bool) -> Self {
        Self {
            started: Instant::now(),
            runs: BTreeMap::new(),
            steps: BTreeMap::new(),
            run_lines,
        }
    }

    /// Seconds since this follower started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Marks these runs as seen without printing them (serve: what finished before it started).
    pub fn seen(&mut self, runs: &[Run]) {
        for r in runs {
            self.runs
                .insert(r.id.to_string(), format!("{:?}", r.status).to_lowercase());
            for (name, s) in &r.steps {
                self.steps.insert(
                    (r.id.to_string(), name.to_string()),
                    format!("{}#{}", s.status.as_str(), s.attempt),
                );
            }
        }
    }

    /// The lines for what changed since the last call; `long_labels` names each step `environment/step`.
    pub fn changes(&mut self, runs: &[Run], long_labels: bool) -> Vec<String> {
        let mut lines = Vec::new();
        for r in runs {
            let t = secs(self.elapsed());
            let status = format!("{:?}", r.status).to_lowercase();
            if self.runs.get(r.id.as_str()) != Some(&status) {
                self.runs.insert(r.id.to_string(), status.clone());
                if self.run_lines {
                    let why = match (&r.reason, r.status.is_finished()) {
                        (Some(why), true) => format!(": {why}"),
                        _ => String::new(),
                    };
                    lines.push(format!(
                        "[{t:>7}] run {} ({}/{}, {}) {status}{why}",
                        r.id,
                        r.product,
                        r.environment,
                        r.trigger.version()
                    ));
                }
            }
            for (name, s) in &r.steps {
                let key = (r.id.to_string(), name.to_string());
                let state = format!("{}#{}", s.status.as_str(), s.attempt);
                let unstarted = s.status.as_str() == "pending" && !self.steps.contains_key(&key);
                if self.steps.get(&key) == Some(&state) || unstarted {
                    continue;
                }
                self.steps.insert(key, state);
                let detail = match s.status.as_str() {
                    "succeeded" => s
                        .started_at
                        .zip(s.finished_at)
                        .map(|(a, b)| {
                            format!("in {}", secs((b - a).num_milliseconds() as f64 / 1000.0))
                        })
                        .unwrap_or_default(),
                    "running" | "queued" => format!("attempt {}/{}", s.attempt, s.max_attempts),
                    _ => s.reason.clone().unwrap_or_default(),
                };
                let label = if long_labels {
                    format!("{}/{}", r.environment, name)
                } else {
                    name.to_string()
                };
                lines.push(format!(
                    "[{t:>7}] {} {label:18} {:10} {detail}",
                    status_mark(s.status.as_str()),
                    s.status.as_str()
                ));
            }
        }
        lines
    }
}
