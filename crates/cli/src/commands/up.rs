//! `nightshift up`: tonight's nightly run of every local product, end to end, with live progress, ending with a
//! summary of each environment. Exit 0 only when every environment is ready.

use crate::cli::{Global, UpArgs};
use crate::local_stack::{LocalStack, StackOptions};
use crate::output::{self, secs, status_mark};
use chrono::Utc;
use nightshift_app::{Mode, Settings};
use nightshift_core::catalog::{EnvironmentKind, Platform};
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::run::{Run, Trigger};
use nightshift_core::RunId;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub async fn run(g: &Global, a: UpArgs) -> anyhow::Result<i32> {
    let mut settings: Settings = super::settings(g)?;
    if settings.mode != Mode::Local {
        eprintln!("error: `nightshift up` runs the embedded local default; unset NIGHTSHIFT_MODE (it is {})", settings.mode.as_str());
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
            problems.iter().for_each(|e| eprintln!("error: {e}"));
            eprintln!("Nothing was started. The catalog format is described in docs/catalog.md.");
            return Ok(1);
        }
    };
    let now = Utc::now();
    let mut expected: Vec<RunId> = Vec::new();
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
                println!(
                    "{}/{}: not due now (see its schedule in {})",
                    p.name, e.name, p.source
                );
                continue;
            };
            let req = PlanRequest {
                product: p,
                environment: &e.name,
                trigger: Trigger::Nightly { night },
                ttl: None,
                instance: &settings.instance,
                now,
            };
            expected.push(planner::run_id(&req));
        }
    }
    if expected.is_empty() {
        eprintln!(
            "error: no local product has a nightly environment due now{}: check the catalog in {}",
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
        eprintln!("error: {e}");
        return Ok(1);
    }
    let say = |m: &str| println!("{m}");
    if let Err(e) = nightshift_app::tools::ensure_ansible_playbook(&settings.tools_dir, &say) {
        eprintln!("error: {e}");
        return Ok(1);
    }

    // 3. The local Functions host and the handler, then tonight's timer.
    println!(
        "Starting the local Functions host and the custom handler (state in {})",
        settings.state_dir.display()
    );
    let stack = LocalStack::start(settings, StackOptions::default()).await?;
    let started = Instant::now();
    let fired = stack.host.invoke_timer("nightly-scheduler").await;
    let failure = match &fired {
        Ok(r) if r.succeeded => None,
        Ok(r) => Some(
            r.error
                .clone()
                .unwrap_or_else(|| format!("status {:?}", r.status)),
        ),
        Err(e) => Some(e.to_string()),
    };
    if let Some(why) = failure {
        let log = stack.app.settings.logs_dir().join("host.log");
        stack.shutdown().await;
        eprintln!(
            "error: the nightly-scheduler failed: {why}. The handler's log is {}",
            log.display()
        );
        return Ok(1);
    }
    println!(
        "nightly-scheduler fired: following {}",
        expected
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );

    // 4. Progress until every run is finished.
    let deadline = started + Duration::from_secs(a.timeout);
    let mut seen: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut runs: Vec<Run> = Vec::new();
    loop {
        runs.clear();
        for id in &expected {
            if let Some(r) = stack.app.run(id).await? {
                runs.push(r);
            }
        }
        for r in &runs {
            for (name, s) in &r.steps {
                let key = (r.id.to_string(), name.to_string());
                let state = format!("{}#{}", s.status.as_str(), s.attempt);
                // A step that has not started yet says nothing; every later change is a line.
                let unstarted = s.status.as_str() == "pending" && !seen.contains_key(&key);
                if seen.get(&key) != Some(&state) && !unstarted {
                    seen.insert(key, state);
                    let t = secs(started.elapsed().as_secs_f64());
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
                    let label = if expected.len() > 1 {
                        format!("{}/{}", r.environment, name)
                    } else {
                        name.to_string()
                    };
                    println!(
                        "[{t:>7}] {} {label:18} {:10} {detail}",
                        status_mark(s.status.as_str()),
                        s.status.as_str()
                    );
                }
            }
        }
        if runs.len() == expected.len() && runs.iter().all(|r| r.status.is_finished()) {
            break;
        }
        if Instant::now() > deadline {
            println!("Still running after {}s: giving up waiting (the run goes on if you start `nightshift up` again).", a.timeout);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // 5. Summary.
    let groups = stack
        .app
        .ports
        .cloud
        .list_managed(&stack.app.settings.instance)
        .await
        .unwrap_or_default();
    let records = stack.app.repo.environments().await.unwrap_or_default();
    let cloud_dir = stack.app.settings.cloud_dir();
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
                && e.status == "destroyed"
        });
        let ready = r.status == nightshift_core::run::RunStatus::Succeeded && !destroyed;
        ok &= ready;
        if a.json {
            continue;
        }
        println!();
        if ready {
            println!(
                "Environment {}/{} is ready (run {}, {}).",
                r.product,
                r.environment,
                r.id,
                secs(r.duration_secs(Utc::now()))
            );
        } else if destroyed {
            println!("Environment {}/{}: tonight's run {} already ran and its environment was destroyed by a sweep since.", r.product, r.environment, r.id);
            println!("  It is built again at the next night; to start over now, use a fresh --state-dir.");
            continue;
        } else {
            println!(
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
                println!(
                    "  step {n} failed: {}",
                    s.reason.clone().unwrap_or_default()
                );
                println!(
                    "  its log: {}",
                    stack
                        .app
                        .settings
                        .store_dir()
                        .join(nightshift_app::repo::log_key(&r.id, n, s.attempt))
                        .display()
                );
            }
        }
        println!(
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
        println!(
            "  resource groups ({} in the local cloud, {}):",
            mine.len(),
            cloud_dir.join("resource-groups").display()
        );
        for g in mine {
            println!("    {}", g.name);
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
                println!("  {label}:");
                for l in &lines {
                    println!("    {l}");
                }
            }
        }
        let more = outputs
            .values()
            .flat_map(|o| o.keys())
            .filter(|k| !is_data(k) && !is_endpoint(k))
            .count();
        if more > 0 {
            println!(
                "  {more} more outputs: nightshift status --json, or the run document {}",
                stack
                    .app
                    .settings
                    .store_dir()
                    .join(nightshift_app::repo::run_key(&r.id))
                    .display()
            );
        }
    }
    if !a.json {
        println!();
        println!(
            "Follow it with `nightshift status` (or --json); the journal is in {}.",
            stack.app.settings.store_dir().join("runs").display()
        );
    }
    stack.shutdown().await;
    Ok(if ok { 0 } else { 1 })
}
