//! `nightshift up`: tonight's nightly run of every local product, end to end, with live progress, ending with a
//! summary of each environment. It starts a local host (or joins the one a `nightshift serve` runs on the same
//! state directory), fires tonight's nightly timer, and follows every run in flight to its end: tonight's runs,
//! runs that were going when it started, and runs that messages already queued (a release) start meanwhile. It
//! stops a host it started only once none of those is still going. Exit 0 only when every run it followed
//! succeeded. A night's environment destroyed since it was built (a sweep) is built again, as a new run.

use crate::cli::{Global, UpArgs};
use crate::output::{self, secs};
use crate::progress::Progress;
use crate::session::Session;
use chrono::Utc;
use nightshift_app::{App, Mode, Settings};
use nightshift_core::catalog::{EnvironmentKind, Platform};
use nightshift_core::messages::RELEASES_QUEUE;
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::run::{Run, Trigger};
use nightshift_core::RunId;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

pub async fn run(g: &Global, a: UpArgs) -> anyhow::Result<i32> {
    // With --json, stdout carries the JSON only: every other line goes to stderr.
    let json = a.json;
    let say = move |m: &str| {
        if json {
            errln!("{m}");
        } else {
            outln!("{m}");
        }
    };
    let mut settings: Settings = super::settings(g)?;
    if settings.mode != Mode::Local {
        errln!("error: `nightshift up` runs the embedded local default; unset NIGHTSHIFT_MODE (it is {})", settings.mode.as_str());
        return Ok(2);
    }
    // Jobs run this very binary as their runner.
    if std::env::var_os("NIGHTSHIFT_RUNNER").is_none() {
        if let Ok(exe) = std::env::current_exe() {
            settings.runner_command = vec![exe.display().to_string(), "runner".into()];
        }
    }
    // 1. The whole validation (the catalog, its stacks and playbooks), before anything else happens.
    let root = Some(settings.repo_root.as_path());
    let catalog = match nightshift_app::catalog_files::load_validated(&settings.catalog_dir, root) {
        Ok(c) => c,
        Err(problems) => {
            problems.iter().for_each(|e| errln!("error: {e}"));
            errln!("Nothing was started. The catalog format is described in docs/catalog.md.");
            return Ok(1);
        }
    };
    let now = Utc::now();
    // Reads only: nothing is created under the state directory before the tools are checked.
    let view = App::new(nightshift_app::wiring::local(&settings), settings.clone());
    let mut expected: Vec<RunId> = Vec::new();
    let mut rebuilds: Vec<(String, String, RunId)> = Vec::new();
    for p in catalog
        .products
        .values()
        .filter(|p| p.platform == Platform::Local)
    {
        if a.product.as_deref().is_some_and(|n| n != p.name.as_str()) {
            continue;
        }
        for e in p
            .environments
            .values()
            .filter(|e| e.kind == EnvironmentKind::Nightly)
        {
            let Some(night) = e
                .schedule
                .as_ref()
                .and_then(|s| nightshift_core::schedule::due_night(s, now))
            else {
                say(&format!(
                    "{}/{}: not due now (see its schedule in {})",
                    p.name, e.name, p.source
                ));
                continue;
            };
            let mut req = PlanRequest {
                product: p,
                environment: &e.name,
                trigger: Trigger::Nightly { night, rebuild: 0 },
                ttl: None,
                instance: &settings.instance,
                now,
            };
            let first = planner::run_id(&req);
            // The night's latest build, if its environment record names one.
            let record = view
                .repo
                .environment(p.name.as_str(), e.name.as_str())
                .await
                .ok()
                .flatten();
            let latest = record
                .as_ref()
                .and_then(|r| planner::nightly_rebuild_of(&r.last_run, &first).map(|n| (n, r)));
            match latest {
                Some((n, r)) if r.status == "destroyed" => {
                    req.trigger = Trigger::Nightly {
                        night,
                        rebuild: n + 1,
                    };
                    let next = planner::run_id(&req);
                    say(&format!(
                        "{}/{}: tonight's build {} was destroyed since ({}): building it again as {next}",
                        p.name,
                        e.name,
                        r.last_run,
                        r.destroyed_reason.clone().unwrap_or_default()
                    ));
                    rebuilds.push((
                        p.name.to_string(),
                        e.name.to_string(),
                        RunId::parse(&r.last_run)?,
                    ));
                    expected.push(next);
                }
                Some((_, r)) => expected.push(RunId::parse(&r.last_run)?),
                None => expected.push(first),
            }
        }
    }
    let in_flight: Vec<RunId> = view
        .repo
        .active_runs()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let queued = queued_releases(&settings);
    if expected.is_empty() && in_flight.is_empty() && queued == 0 {
        errln!(
            "error: no local product has a nightly environment due now{}, and no run or release is in flight: check the catalog in {}, or send one with `nightshift release PRODUCT ENV VERSION`",
            a.product
                .as_deref()
                .map(|p| format!(" (product {p})"))
                .unwrap_or_default(),
            settings.catalog_dir.display()
        );
        return Ok(1);
    }

    // 2. The tools the steps run.
    if let Err(e) = nightshift_app::tools::terraform() {
        errln!("error: {e}");
        return Ok(1);
    }
    if let Err(e) = nightshift_app::tools::ensure_ansible_playbook(&settings.tools_dir, &say) {
        errln!("error: {e}");
        return Ok(1);
    }

    // 3. The local host (ours, or the running serve's), then tonight's timer.
    let requested_by = super::lifecycle::default_identity();
    for (product, env, after) in &rebuilds {
        view.request_rebuild(product, env, after, &requested_by)
            .await?;
    }
    let session = Session::join_or_start(settings, a.port, &say).await?;
    let started = Instant::now();
    let started_at = Utc::now();
    if !expected.is_empty() {
        if let Err(why) = session.fire("nightly-scheduler").await {
            let log = session.app().settings.logs_dir().join("host.log");
            session.shutdown().await;
            errln!(
                "error: the nightly-scheduler failed: {why:#}. The handler's log is {}",
                log.display()
            );
            return Ok(1);
        }
        say(&format!(
            "nightly-scheduler fired: following {}",
            expected
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !in_flight.is_empty() || queued > 0 {
        say(&format!(
            "also following {} run(s) in flight and {queued} queued release(s)",
            in_flight.len()
        ));
    }

    // 4. Progress until every run it knows of is finished and nothing is left to start one.
    let app = session.app();
    let deadline = started + Duration::from_secs(a.timeout);
    let mut progress = Progress::new(false);
    let mut followed: BTreeSet<RunId> = expected.iter().chain(&in_flight).cloned().collect();
    let mut runs: Vec<Run>;
    // Ctrl-C stops following; a host started here then stops gracefully (invocations in flight finish), and the
    // runs resume when a host runs again.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let timed_out = loop {
        let all = app.repo.runs().await?;
        let active: BTreeSet<RunId> = app
            .repo
            .active_runs()
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect();
        for r in &all {
            if active.contains(&r.id) || r.created_at >= started_at {
                followed.insert(r.id.clone());
            }
        }
        runs = all
            .into_iter()
            .filter(|r| followed.contains(&r.id))
            .collect();
        progress.run_lines = followed.len() > 1;
        for line in progress.changes(&runs, followed.len() > 1) {
            say(&line);
        }
        let every_expected_exists = expected.iter().all(|id| runs.iter().any(|r| &r.id == id));
        if every_expected_exists
            && runs.iter().all(|r| r.status.is_finished())
            && active.is_empty()
            && queued_releases(&app.settings) == 0
        {
            break false;
        }
        if Instant::now() > deadline {
            break true;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = interrupt.recv() => {
                errln!("Interrupted: stopping (invocations in flight finish first). The runs resume when a host runs again (`nightshift serve`, or `nightshift up`).");
                session.shutdown().await;
                return Ok(130);
            }
        }
    };
    // 5. Summary.
    let groups = app
        .ports
        .cloud
        .list_managed(&app.settings.instance)
        .await
        .unwrap_or_default();
    let records = app.repo.environments().await.unwrap_or_default();
    let cloud_dir = app.settings.cloud_dir();
    let mut ok = true;
    if a.json {
        let now = Utc::now();
        output::print_json(
            &runs
                .iter()
                .map(|r| nightshift_app::service::summarize(r, now))
                .collect::<Vec<_>>(),
        );
    }
    for r in &runs {
        let destroyed = records.iter().any(|e| {
            e.product == r.product.as_str()
                && e.environment == r.environment.as_str()
                && e.last_run == r.id.as_str()
                && e.status == "destroyed"
        });
        let ready = r.status == nightshift_core::run::RunStatus::Succeeded && !destroyed;
        ok &= ready;
        if a.json {
            continue;
        }
        outln!();
        if ready {
            outln!(
                "Environment {}/{} is ready (run {}, {}).",
                r.product,
                r.environment,
                r.id,
                secs(r.duration_secs(Utc::now()))
            );
        } else if destroyed {
            outln!(
                "Environment {}/{}: run {} ran and its environment was destroyed since ({}); `nightshift up` builds tonight's again.",
                r.product,
                r.environment,
                r.id,
                records
                    .iter()
                    .find(|e| e.product == r.product.as_str() && e.environment == r.environment.as_str())
                    .and_then(|e| e.destroyed_reason.clone())
                    .unwrap_or_default()
            );
            continue;
        } else {
            outln!(
                "Environment {}/{} is NOT ready: run {} {:?}: {}",
                r.product,
                r.environment,
                r.id,
                r.status,
                r.reason.clone().unwrap_or_default()
            );
            for (n, s) in r
                .steps
                .iter()
                .filter(|(_, s)| s.status.as_str() == "failed")
            {
                outln!(
                    "  step {n} failed: {}",
                    s.reason.clone().unwrap_or_default()
                );
                outln!(
                    "  its log: {}",
                    app.settings
                        .store_dir()
                        .join(nightshift_app::repo::log_key(&r.id, n, s.attempt))
                        .display()
                );
            }
        }
        outln!(
            "  expires:  {}",
            r.expires_at
                .map(|t| format!(
                    "{} (sweep it earlier with: nightshift sweep --now {})",
                    output::time(Some(t)),
                    nightshift_core::expiry::tags::format_time(t + chrono::Duration::minutes(1))
                ))
                .unwrap_or_else(|| "never (persistent)".into())
        );
        let mine: Vec<_> = groups
            .iter()
            .filter(|g| {
                g.tags
                    .get(nightshift_core::expiry::tags::RUN)
                    .map(String::as_str)
                    == Some(r.id.as_str())
            })
            .collect();
        outln!(
            "  resource groups ({} in the local cloud, {}):",
            mine.len(),
            cloud_dir.join("resource-groups").display()
        );
        for g in mine {
            outln!("    {}", g.name);
        }
        // Where the data lives and how to reach the environment; everything else is in `status --json`.
        let outputs = r.outputs();
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let is_data = |k: &str| k.ends_with("database_path") || k.ends_with("_records");
        let is_endpoint = |k: &str| k == "url" || k == "urls";
        for (label, pick) in [
            ("data", &is_data as &dyn Fn(&str) -> bool),
            ("endpoints", &is_endpoint),
        ] {
            let lines: Vec<String> = outputs
                .iter()
                .flat_map(|(step, outs)| {
                    outs.iter()
                        .filter(|(k, _)| pick(k))
                        .map(move |(k, v)| format!("{step}.{k} = {}", text(v)))
                })
                .collect();
            if !lines.is_empty() {
                outln!("  {label}:");
                for l in &lines {
                    outln!("    {l}");
                }
            }
        }
        let more = outputs
            .values()
            .flat_map(|o| o.keys())
            .filter(|k| !is_data(k) && !is_endpoint(k))
            .count();
        if more > 0 {
            outln!(
                "  {more} more outputs: nightshift status --json, or the run document {}",
                app.settings
                    .store_dir()
                    .join(nightshift_app::repo::run_key(&r.id))
                    .display()
            );
        }
    }
    if !a.json {
        outln!();
        outln!(
            "Follow it with `nightshift status` (or --json); the journal is in {}.",
            app.settings.store_dir().join("runs").display()
        );
    }
    if timed_out {
        errln!(
            "Still running after {}s: stopped waiting. The runs go on when a host runs again (`nightshift serve`, or `nightshift up`).",
            a.timeout
        );
        ok = false;
    }
    session.shutdown().await;
    Ok(if ok { 0 } else { 1 })
}

/// Release messages waiting on the local `releases` queue (a run they start is followed too). Creates nothing.
fn queued_releases(settings: &Settings) -> usize {
    let dir = settings.queues_dir().join(RELEASES_QUEUE);
    if !dir.is_dir() {
        return 0;
    }
    nightshift_local::queue::DiskQueue::open(dir, Default::default())
        .and_then(|q| q.len())
        .unwrap_or(0)
}
