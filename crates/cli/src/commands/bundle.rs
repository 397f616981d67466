//! `nightshift bundle RUN -o FILE.tar.gz`: everything needed to debug a run, in one file to attach to a ticket:
//! the run document, every attempt's log and result, the outputs, the plan (each step's definition as planned,
//! the tags and expiry), the environment record, and an excerpt of the host log (lines naming the run, and the
//! last lines). Every text is passed through the runner's redaction with the values of the secrets the run's
//! steps name: no secret value leaves in a bundle. A secret that cannot be read for a reason other than its
//! absence stops the bundle (nothing is written).

use crate::cli::{BundleArgs, Global};
use anyhow::Context;
use nightshift_app::runner::redact;
use nightshift_core::RunId;
use serde_json::json;
use std::collections::BTreeSet;

/// Host log lines kept besides those naming the run.
const HOST_LOG_TAIL: usize = 200;

pub async fn run(g: &Global, a: BundleArgs) -> anyhow::Result<i32> {
    let Ok(id) = RunId::parse(&a.run) else {
        errln!(
            "error: {:?} is not a run id (`nightshift status` lists them)",
            a.run
        );
        return Ok(2);
    };
    let app = super::app(super::settings(g)?).await?;
    let Some(run) = app.repo.run(&id).await? else {
        errln!("error: no run {id} in the journal: `nightshift status` lists the runs");
        return Ok(1);
    };

    // The values to redact: every secret any step of the run names.
    let names: BTreeSet<String> = run
        .steps
        .values()
        .flat_map(|s| s.def.secrets.values().cloned())
        .collect();
    let mut secrets = Vec::new();
    for name in &names {
        match app.ports.secrets.get(name).await {
            Ok(v) if !v.expose().is_empty() => secrets.push(v.expose().to_string()),
            Ok(_) => {}
            Err(e) if !e.is_retryable() => {
                errln!(
                    "note: secret {name} cannot be read ({e}): a value it never had cannot leak"
                );
            }
            Err(e) => {
                errln!("error: cannot read secret {name} to redact it ({e}); nothing was written. Try again.");
                return Ok(1);
            }
        }
    }
    let clean = |text: &str| -> String {
        text.split_inclusive('\n')
            .map(|l| redact(l, &secrets))
            .collect()
    };

    let mut files: Vec<(String, String)> = Vec::new();
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    files.push(("run.json".into(), pretty(&serde_json::to_value(&run)?)));
    files.push((
        "outputs.json".into(),
        pretty(&serde_json::to_value(run.outputs())?),
    ));
    files.push((
        "plan.json".into(),
        pretty(&json!({
            "product": run.product, "environment": run.environment,
            "catalog_environment": run.catalog_environment, "kind": run.kind.as_str(),
            "trigger": run.trigger, "expires_at": run.expires_at, "tags": run.tags,
            "steps": run.steps.iter().map(|(k, s)| (k.to_string(), json!({"def": s.def, "tiers": s.tiers}))).collect::<serde_json::Map<_, _>>(),
        })),
    ));
    if let Ok(Some(rec)) = app
        .repo
        .store()
        .get(&nightshift_app::repo::environment_key(
            run.product.as_str(),
            run.environment.as_str(),
        ))
        .await
    {
        files.push((
            "environment.json".into(),
            String::from_utf8_lossy(&rec.bytes).into_owned(),
        ));
    }
    for prefix in [format!("logs/{id}/"), format!("results/{id}/")] {
        for key in app.repo.store().list(&prefix).await? {
            if let Some(v) = app.repo.store().get(&key).await? {
                let name = key.replacen(&format!("/{id}/"), "/", 1);
                files.push((name, String::from_utf8_lossy(&v.bytes).into_owned()));
            }
        }
    }
    let host_log = app.settings.logs_dir().join("host.log");
    if let Ok(text) = std::fs::read_to_string(&host_log) {
        let lines: Vec<&str> = text.lines().collect();
        let tail_from = lines.len().saturating_sub(HOST_LOG_TAIL);
        let excerpt: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(i, l)| *i >= tail_from || l.contains(id.as_str()))
            .map(|(_, l)| *l)
            .collect();
        files.push(("host-log-excerpt.txt".into(), excerpt.join("\n") + "\n"));
    }

    let root = format!("nightshift-bundle-{id}");
    let write = || -> anyhow::Result<()> {
        if let Some(dir) = a.output.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = a.output.with_extension("partial");
        let file = std::fs::File::create(&tmp)?;
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for (name, text) in &files {
            let bytes = clean(text).into_bytes();
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
            header.set_cksum();
            tar.append_data(&mut header, format!("{root}/{name}"), bytes.as_slice())?;
        }
        tar.into_inner()?.finish()?;
        std::fs::rename(&tmp, &a.output)?;
        Ok(())
    };
    write().with_context(|| format!("cannot write {}", a.output.display()))?;
    outln!(
        "Wrote {} ({} files: run document, {} logs and results, outputs, plan, host log excerpt; {} secret value(s) redacted).",
        a.output.display(),
        files.len(),
        files.iter().filter(|(n, _)| n.starts_with("logs/") || n.starts_with("results/")).count(),
        secrets.len()
    );
    Ok(0)
}
