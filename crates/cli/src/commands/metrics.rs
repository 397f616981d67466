//! `nightshift metrics`: delivery figures over the journal (docs/metrics.md explains each one).

use crate::cli::{Global, MetricsArgs};
use crate::output::{self, secs};
use nightshift_app::Need;
use nightshift_core::metrics::{Durations, Filter};

pub async fn run(g: &Global, a: MetricsArgs) -> anyhow::Result<i32> {
    // The figures are computed over the journal in the store.
    let app = super::app(super::settings_for(g, &[Need::Store])?).await?;
    let filter = Filter {
        since: Some(app.now() - a.since.as_chrono()),
        product: a.product,
        environment: a.environment,
    };
    let m = app.metrics(&filter).await?;
    if a.json {
        output::print_json(&m);
        return Ok(0);
    }
    let scope = [
        m.filter.product.as_deref().map(|p| format!("product {p}")),
        m.filter
            .environment
            .as_deref()
            .map(|e| format!("environment {e}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    outln!(
        "Since {}{}:",
        output::time(m.filter.since),
        if scope.is_empty() {
            String::new()
        } else {
            format!(" ({})", scope.join(", "))
        }
    );
    if m.deployments == 0 && m.in_progress == 0 {
        outln!(
            "  No runs in this period. Widen it with --since 90d, or start one with: nightshift up"
        );
        return Ok(0);
    }
    let pct = |r: Option<f64>| {
        r.map(|r| format!("{:.0}%", r * 100.0))
            .unwrap_or("-".into())
    };
    let dist = |d: &Durations| match (d.p50_secs, d.p90_secs) {
        (Some(p50), Some(p90)) => format!(
            "median {}, p90 {} ({} samples)",
            secs(p50),
            secs(p90),
            d.count
        ),
        _ => "no data".into(),
    };
    outln!(
        "  Deployments          {} finished ({} succeeded, {} failed), {} in progress",
        m.deployments,
        m.succeeded,
        m.failed,
        m.in_progress
    );
    outln!("  Success rate         {}", pct(m.success_rate));
    if let Some(f) = m.deployments_per_day {
        outln!("  Deployment frequency {f:.2} successful deployments a day");
    }
    outln!("  Deployment duration  {}", dist(&m.deployment_duration));
    outln!("  Time to ready        {}", dist(&m.time_to_ready));
    outln!(
        "  Recovery time        {} ({} recovered, {} not yet)",
        dist(&m.recovery.time),
        m.recovery.recovered,
        m.recovery.unrecovered
    );
    outln!(
        "  Rollbacks            {} ({} succeeded), {}",
        m.rollbacks.count,
        m.rollbacks.succeeded,
        dist(&m.rollbacks.duration)
    );
    outln!("  Change lead time     {}", dist(&m.change_lead_time));
    outln!(
        "  Notification delay   {} ({} delivery records)",
        dist(&m.notifications.delay),
        m.notifications.records
    );
    if !m.actions.is_empty() {
        let list: Vec<String> = m.actions.iter().map(|(k, n)| format!("{k} {n}")).collect();
        outln!("  Actions              {}", list.join(", "));
    }
    outln!(
        "  Checks               {} run, {} failed, {} passed on retry: false-positive rate {}",
        m.checks.runs,
        m.checks.failed,
        m.checks.false_positives,
        pct(m.checks.false_positive_rate)
    );
    Ok(0)
}
