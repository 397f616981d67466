//! `nightshift status`: the newest runs with their steps (a page at a time: `--limit`, `--cursor`), environments,
//! rejected messages.

use crate::cli::{Global, StatusArgs};
use crate::output::{self, secs, status_mark, time};
use nightshift_app::Need;

pub async fn run(g: &Global, a: StatusArgs) -> anyhow::Result<i32> {
    // Runs, environments and rejections are in the store: that is all status asks for.
    let app = super::app(super::settings_for(g, &[Need::Store])?).await?;
    let query = nightshift_app::usecases::status::StatusQuery {
        limit: a.limit.into(),
        cursor: a.cursor.clone(),
    };
    let report = app.status_page(&query).await?;
    if a.json {
        output::print_json(&report);
        return Ok(0);
    }
    if report.runs.is_empty() && a.cursor.is_none() {
        outln!(
            "No runs yet in {}. Start one with: nightshift up",
            app.settings.state_dir.display()
        );
    }
    for r in &report.runs {
        outln!(
            "{} {:?} {} ({}), created {}, expires {}",
            status_mark(&format!("{:?}", r.status).to_lowercase()),
            r.status,
            r.id,
            r.kind,
            time(Some(r.created_at)),
            time(r.expires_at)
        );
        if let Some(why) = &r.reason {
            outln!("    {why}");
        }
        if let Some(at) = r.compacted_at {
            outln!(
                "    steps and logs removed by retention at {} (NIGHTSHIFT_RETENTION)",
                time(Some(at))
            );
        }
        if let Some(key) = &r.dossier {
            outln!(
                "    dossier: {key} (nightshift dossier --diff RUN_A RUN_B compares two builds)"
            );
        }
        for s in &r.steps {
            let d = s.duration_secs.map(secs).unwrap_or_default();
            let why = s
                .reason
                .as_deref()
                .map(|w| format!("  {w}"))
                .unwrap_or_default();
            outln!(
                "    {} {:14} {:10} attempts {}/{} {d:>7}{why}",
                status_mark(&s.status),
                s.name,
                s.status,
                s.attempts,
                s.max_attempts
            );
        }
    }
    if let Some(c) = &report.next_cursor {
        outln!(
            "Older runs: nightshift status --limit {} --cursor {c}",
            a.limit
        );
    }
    if !report.environments.is_empty() {
        outln!("\nEnvironments:");
        for e in &report.environments {
            outln!(
                "  {}/{} ({}): {}, expires {}, last run {}",
                e.product,
                e.environment,
                e.kind,
                e.status,
                time(e.expires_at),
                e.last_run
            );
        }
    }
    if !report.rejected.is_empty() {
        outln!("\nRejected messages:");
        for r in &report.rejected {
            outln!(
                "  {} {} on {}: {}",
                time(Some(r.at)),
                r.message_id,
                r.queue,
                r.reason
            );
        }
    }
    if !report.failed_notifications.is_empty() {
        outln!("\nNotifications not delivered:");
        for d in &report.failed_notifications {
            outln!(
                "  {} {} of {}/{} to {} after {} tries: {}",
                time(Some(d.event_at)),
                d.kind,
                d.product,
                d.environment,
                d.target,
                d.attempts,
                d.error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(0)
}
