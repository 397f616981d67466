//! `nightshift doctor`: every setting, reachability and permission the current mode needs, one line each with the
//! fix; exit 1 when any check failed.

use crate::cli::{DoctorArgs, Global};
use crate::output;

pub async fn run(g: &Global, a: DoctorArgs) -> anyhow::Result<i32> {
    // Nothing required up front: a missing setting is one of the lines, not a refusal to start.
    let app = super::app(super::settings_for(g, &[])?).await?;
    let report = app.doctor().await;
    if a.json {
        output::print_json(&report);
    } else {
        for c in &report.checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            match &c.fix {
                Some(fix) if !c.ok => outln!("{mark} {}: {} -> {fix}", c.name, c.detail),
                _ => outln!("{mark} {}: {}", c.name, c.detail),
            }
        }
        let failed = report.checks.iter().filter(|c| !c.ok).count();
        outln!(
            "{} mode: {} check(s), {failed} failed",
            report.mode,
            report.checks.len()
        );
    }
    Ok(if report.ok { 0 } else { 1 })
}
