//! `nightshift sweep`: destroys expired environments' resource groups, or says what it would do.

use crate::cli::{Global, SweepArgs};
use crate::output;
use nightshift_app::Need;

pub async fn run(g: &Global, a: SweepArgs) -> anyhow::Result<i32> {
    // The resource groups (ARM) and the store (environments, pending deletions, state): no job settings.
    let app = super::app(super::settings_for(g, &[Need::Store, Need::Arm])?).await?;
    let cap = a.cap.unwrap_or(app.settings.sweep_cap);
    let dry_run = a.dry_run || app.settings.sweep_dry_run;
    let report = match app.sweep(a.now, dry_run, cap).await {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {e}");
            return Ok(1);
        }
    };
    if a.json {
        output::print_json(&report);
    } else {
        for i in &report.items {
            outln!("{:12} {:40} {}", i.action, i.resource_group, i.reason);
        }
        outln!(
            "sweep at {}{}: {} deleted, {} kept, {} deferred (cap {}), {} waiting, {} errors",
            output::time(Some(report.now)),
            if dry_run {
                " (dry run: nothing deleted)"
            } else {
                ""
            },
            report.deleted,
            report.kept,
            report.deferred,
            cap,
            report.waiting,
            report.errors
        );
    }
    Ok(if report.errors > 0 { 1 } else { 0 })
}
