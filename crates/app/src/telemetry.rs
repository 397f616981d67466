//! Domain events for dashboards: one JSON object per line on the process's stdout.
//!
//! On Azure the Functions host forwards a custom handler's output to Application Insights as `traces`; the portal
//! workbook (terraform/orchestrator/workbooks) finds these lines by event name and parses the JSON at the end of the
//! message. Locally they land in the host log. Events carry names and ids, never secret values.

use chrono::{DateTime, Utc};
use nightshift_core::metrics;
use nightshift_core::run::{Run, RunStatus};
use serde_json::{json, Value};

pub const RUN_FINISHED: &str = "nightshift.run.finished";
pub const STEP_FINISHED: &str = "nightshift.step.finished";
pub const MESSAGE_REJECTED: &str = "nightshift.message.rejected";
pub const ENVIRONMENT_DELETED: &str = "nightshift.environment.deleted";
/// A notification's delivery to one channel ended: delivered (with its delay), or failed for good.
pub const NOTIFICATION_FINISHED: &str = "nightshift.notification.finished";

/// Every event this module emits (the workbook may query only these).
pub const EVENTS: [&str; 5] = [
    RUN_FINISHED,
    STEP_FINISHED,
    MESSAGE_REJECTED,
    ENVIRONMENT_DELETED,
    NOTIFICATION_FINISHED,
];

/// The line for one event: `nightshift-event <json>`, the JSON holding `event` and the fields.
pub fn line(event: &str, fields: Value) -> String {
    let mut object = match fields {
        Value::Object(m) => m,
        other => {
            let mut m = serde_json::Map::new();
            m.insert("value".into(), other);
            m
        }
    };
    object.insert("event".into(), json!(event));
    format!("nightshift-event {}", Value::Object(object))
}

/// The fields of [`RUN_FINISHED`]: `duration_ms` runs from the release received to finished (queueing included,
/// the portal's time to ready), `building_ms` from the end of the wait; `lead_time_ms` from the commit, when the
/// release gave `commit_time`. The same definitions as `nightshift metrics` (nightshift_core::metrics).
pub fn run_finished(run: &Run, now: DateTime<Utc>) -> Value {
    let end = run.finished_at.unwrap_or(now);
    let ms = |from: DateTime<Utc>| (end - from).num_milliseconds();
    let trigger = serde_json::to_value(&run.trigger).unwrap_or(Value::Null);
    json!({
        "product": run.product, "environment": run.environment, "run_id": run.id, "kind": run.kind.as_str(),
        "version": run.trigger.version(), "trigger": trigger.get("type"),
        "rollback": metrics::is_rollback(run),
        "outcome": if run.status == RunStatus::Succeeded { "succeeded" } else { "failed" },
        "duration_ms": ms(run.created_at), "building_ms": ms(metrics::building_since(run)),
        "lead_time_ms": metrics::commit_time(run).map(ms), "reason": run.reason,
    })
}

static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// On by default (the handler, the runner); the CLI's own commands turn it off: a person reads their output.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Written to stdout, the stream the Functions host logs as information (its stderr is for errors only; host.json
/// keeps these traces out of sampling). The CLI's own commands turn events off: their stdout is for `--json`.
pub fn emit(event: &str, fields: Value) {
    if ENABLED.load(std::sync::atomic::Ordering::Relaxed) {
        println!("{}", line(event, fields));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_line_ending_with_its_json() {
        let l = line(
            RUN_FINISHED,
            json!({"product": "shop", "outcome": "succeeded"}),
        );
        assert!(!l.contains('\n'));
        let json: Value =
            serde_json::from_str(l.strip_prefix("nightshift-event ").unwrap()).unwrap();
        assert_eq!(json["event"], RUN_FINISHED);
        assert_eq!(json["product"], "shop");
    }
}
