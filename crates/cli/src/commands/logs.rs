//! `nightshift logs RUN [STEP] [--attempt N]`: the step logs the journal keeps (`logs/<run>/<step>/<attempt>.log`,
//! secret values already redacted by the runner), in the run's step order, each attempt under a header.

use crate::cli::{Global, LogsArgs};
use nightshift_app::Need;
use nightshift_core::RunId;

/// The stored log keys of a run as (step, attempt, key), in the run's step order when its document is there.
pub async fn log_keys(
    app: &nightshift_app::App,
    run: &RunId,
) -> anyhow::Result<Vec<(String, u32, String)>> {
    let prefix = format!("logs/{run}/");
    let mut keys: Vec<(String, u32, String)> = app
        .repo
        .store()
        .list(&prefix)
        .await?
        .into_iter()
        .filter_map(|k| {
            let rest = k.strip_prefix(&prefix)?;
            let (step, file) = rest.split_once('/')?;
            let attempt: u32 = file.strip_suffix(".log")?.parse().ok()?;
            Some((step.to_string(), attempt, k.clone()))
        })
        .collect();
    let order: Vec<String> = match app.repo.run(run).await {
        Ok(Some(r)) => r.steps.keys().map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    };
    let rank = |s: &str| order.iter().position(|o| o == s).unwrap_or(usize::MAX);
    keys.sort_by(|a, b| (rank(&a.0), &a.0, a.1).cmp(&(rank(&b.0), &b.0, b.1)));
    Ok(keys)
}

pub async fn run(g: &Global, a: LogsArgs) -> anyhow::Result<i32> {
    let Ok(run) = RunId::parse(&a.run) else {
        errln!(
            "error: {:?} is not a run id (e.g. orthense-demo.nightly.n20261121; `nightshift status` lists them)",
            a.run
        );
        return Ok(2);
    };
    // Stored logs and the run's step order are in the store.
    let app = super::app(super::settings_for(g, &[Need::Store])?).await?;
    let keys: Vec<_> = log_keys(&app, &run)
        .await?
        .into_iter()
        .filter(|(s, n, _)| {
            a.step.as_deref().is_none_or(|want| want == s)
                && a.attempt.is_none_or(|want| want == *n)
        })
        .collect();
    if keys.is_empty() {
        let what = match (&a.step, a.attempt) {
            (Some(s), Some(n)) => format!(" for step {s} attempt {n}"),
            (Some(s), None) => format!(" for step {s}"),
            (None, Some(n)) => format!(" for attempt {n}"),
            (None, None) => String::new(),
        };
        errln!(
            "error: no stored log for run {run}{what}: see `nightshift status` for its steps and attempts"
        );
        return Ok(1);
    }
    let single = keys.len() == 1 && a.step.is_some();
    for (step, attempt, key) in keys {
        let Some(v) = app.repo.store().get(&key).await? else {
            continue;
        };
        if !single {
            outln!("==> {step} attempt {attempt} ({key}) <==");
        }
        out!("{}", String::from_utf8_lossy(&v.bytes));
        if !single {
            outln!();
        }
    }
    Ok(0)
}
