//! `nightshift dossier`: a product's technical dossier from the catalog and the stacks (docs/dossier.md), or the
//! changes between two builds' stored dossiers (`--diff RUN_A RUN_B`).

use crate::cli::{DossierArgs, Global};
use nightshift_app::dossier::{self, Input, RunFacts};
use nightshift_core::dossier::{diff, html, markdown, Lang};
use nightshift_core::run::RunStatus;
use nightshift_core::RunId;
use std::path::{Path, PathBuf};

/// Where the HTML format finds mermaid (the npm package, installed by `npm ci` at the repository root).
pub const MERMAID_JS: &str = "node_modules/mermaid/dist/mermaid.min.js";

pub async fn run(g: &Global, a: DossierArgs) -> anyhow::Result<i32> {
    let s = super::settings(g)?;
    let lang = Lang::parse(&a.lang).unwrap_or_default();
    if let Some(runs) = &a.diff {
        let ids: Vec<RunId> = match runs.iter().map(|r| RunId::parse(r)).collect() {
            Ok(ids) => ids,
            Err(e) => {
                errln!("error: {e}: give two run ids as nightshift status shows them");
                return Ok(2);
            }
        };
        let app = super::app(s).await?;
        return match app.dossier_diff(&ids[0], &ids[1]).await {
            Ok(d) if a.json => {
                outln!("{}", serde_json::to_string_pretty(&d)?);
                Ok(0)
            }
            Ok(d) => {
                out!("{}", diff::render(&d, lang));
                Ok(0)
            }
            Err(e) => {
                errln!("error: {e}");
                Ok(1)
            }
        };
    }
    let catalog = match nightshift_app::catalog_files::load(&s.catalog_dir) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return Ok(1);
        }
    };
    let name = a.product.clone().unwrap_or_default();
    let Some(product) = catalog.product(&name) else {
        let known: Vec<&str> = catalog.products.keys().map(|p| p.as_str()).collect();
        errln!(
            "error: no product {name:?} in {} (known: {})",
            s.catalog_dir.display(),
            known.join(", ")
        );
        return Ok(2);
    };
    let d = match &a.environment {
        Some(env) => {
            let Some(def) = dossier::resolve_environment(product, env) else {
                let known: Vec<&str> = product.environments.keys().map(|e| e.as_str()).collect();
                errln!(
                    "error: {name} has no environment {env:?} (known: {})",
                    known.join(", ")
                );
                return Ok(2);
            };
            let run = last_run(&s, &name, env).await;
            dossier::build(&Input {
                repo_root: &s.repo_root,
                product,
                environment: def,
                environment_name: env,
                run: run.as_ref(),
            })
        }
        None => dossier::merge_environments(
            product
                .environments
                .values()
                .map(|def| {
                    let d = dossier::build(&Input {
                        repo_root: &s.repo_root,
                        product,
                        environment: def,
                        environment_name: def.name.as_str(),
                        run: None,
                    });
                    (def.name.to_string(), d)
                })
                .collect(),
        ),
    };
    let text = if a.format == "html" {
        let js_path = s.repo_root.join(MERMAID_JS);
        let js = match std::fs::read_to_string(&js_path) {
            Ok(js) => js,
            Err(e) => {
                errln!(
                    "error: the HTML format embeds mermaid from {} ({e}): run `npm ci` at the repository root",
                    js_path.display()
                );
                return Ok(1);
            }
        };
        html::render(&d, lang, &js)
    } else {
        markdown::render(&d, lang)
    };
    match &a.output {
        None => out!("{text}"),
        Some(dir) => {
            let path = output_path(dir, &name, a.environment.as_deref(), &a.format);
            std::fs::create_dir_all(dir)?;
            std::fs::write(&path, text)?;
            outln!("{}", path.display());
        }
    }
    Ok(0)
}

fn output_path(dir: &Path, product: &str, env: Option<&str>, format: &str) -> PathBuf {
    let env = env.map(|e| format!("-{e}")).unwrap_or_default();
    dir.join(format!("dossier-{product}{env}.{format}"))
}

/// The environment's last successful run in the store, if nightshift has built it here.
async fn last_run(s: &nightshift_app::Settings, product: &str, env: &str) -> Option<RunFacts> {
    if !s.state_dir.join("store").exists() && s.mode == nightshift_app::Mode::Local {
        return None;
    }
    let env_name = nightshift_core::EnvironmentName::parse(env).ok()?;
    let app = match super::app(s.clone()).await {
        Ok(app) => app,
        Err(e) => {
            errln!("note: no run facts (the store is not reachable: {e})");
            return None;
        }
    };
    let runs = app.runs_for(product, &env_name).await.ok()?;
    let run = runs
        .iter()
        .rev()
        .find(|r| r.status == RunStatus::Succeeded)?;
    Some(nightshift_app::usecases::dossier::run_facts(run))
}

/// `nightshift validate`'s part: every `dossier.flows` end that names a step's instance (`spas.pro`) must be a
/// component the stacks create (the catalog check cannot know; it already refused unknown names).
pub fn check_annotations(
    s: &nightshift_app::Settings,
    catalog: &nightshift_core::catalog::Catalog,
) -> Vec<String> {
    let mut problems = Vec::new();
    for product in catalog.products.values() {
        if product.dossier.flows.is_empty() {
            continue;
        }
        let Some(def) = product.environments.values().next() else {
            continue;
        };
        let d = dossier::build(&Input {
            repo_root: &s.repo_root,
            product,
            environment: def,
            environment_name: def.name.as_str(),
            run: None,
        });
        problems.extend(
            d.warnings
                .into_iter()
                .filter(|w| w.contains("dossier flow")),
        );
    }
    problems
}
