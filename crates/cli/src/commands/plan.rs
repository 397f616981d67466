//! `nightshift plan`: each product's DAG, in dependency order, and its critical path.

use crate::cli::{Global, PlanArgs};
use crate::output;
use nightshift_core::catalog::Action;
use nightshift_core::planner::{critical_path, topological_order};
use serde::Serialize;

#[derive(Serialize)]
struct PlanStep {
    name: String,
    kind: String,
    target: String,
    needs: Vec<String>,
    retries: u32,
    estimate_secs: u64,
}

#[derive(Serialize)]
struct ProductPlan {
    product: String,
    platform: String,
    source: String,
    steps: Vec<PlanStep>,
    critical_path: Vec<String>,
    critical_path_secs: f64,
    sequential_secs: f64,
    environments: Vec<String>,
}

pub async fn run(g: &Global, a: PlanArgs) -> anyhow::Result<i32> {
    let s = super::settings(g)?;
    let catalog = match nightshift_app::catalog_files::load(&s.catalog_dir) {
        Ok(c) => c,
        Err(e) => {
            errln!("error: {e}");
            return Ok(1);
        }
    };
    if let Some(p) = &a.product {
        if catalog.product(p).is_none() {
            errln!(
                "error: no product {p:?} in {} (products: {})",
                s.catalog_dir.display(),
                catalog
                    .products
                    .keys()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(2);
        }
    }
    let mut plans = Vec::new();
    for p in catalog
        .products
        .values()
        .filter(|p| a.product.as_deref().is_none_or(|n| n == p.name.as_str()))
    {
        let order = topological_order(&p.steps);
        let (path, total) = critical_path(&p.steps, |n| p.steps[n].estimate_secs as f64);
        plans.push(ProductPlan {
            product: p.name.to_string(),
            platform: format!("{:?}", p.platform).to_lowercase(),
            source: p.source.clone(),
            steps: order
                .iter()
                .map(|n| {
                    let st = &p.steps[n];
                    PlanStep {
                        name: n.to_string(),
                        kind: st.action.kind().into(),
                        target: match &st.action {
                            Action::Terraform { stack, .. } => stack.clone(),
                            Action::Ansible { playbook, .. } => playbook.clone(),
                            Action::Smoke { command, .. } => command.join(" "),
                        },
                        needs: st.needs.iter().map(|n| n.to_string()).collect(),
                        retries: st.retries,
                        estimate_secs: st.estimate_secs,
                    }
                })
                .collect(),
            critical_path: path.iter().map(|n| n.to_string()).collect(),
            critical_path_secs: total,
            sequential_secs: p.steps.values().map(|s| s.estimate_secs as f64).sum(),
            environments: p
                .environments
                .values()
                .map(|e| format!("{} ({})", e.name, e.kind.as_str()))
                .collect(),
        });
    }
    if a.json {
        output::print_json(&plans);
        return Ok(0);
    }
    for p in &plans {
        outln!("{} ({} platform, {})", p.product, p.platform, p.source);
        let width = p.steps.iter().map(|s| s.name.len()).max().unwrap_or(4);
        for st in &p.steps {
            let on = if st.needs.is_empty() {
                String::new()
            } else {
                format!("  <- {}", st.needs.join(", "))
            };
            let star = if p.critical_path.contains(&st.name) {
                "*"
            } else {
                " "
            };
            outln!(
                "  {star} {:width$}  {:9}  {}{on}",
                st.name,
                st.kind,
                st.target
            );
        }
        outln!(
            "  critical path (*): {}  ~{} by estimates; run one after another: ~{}",
            p.critical_path.join(" -> "),
            output::secs(p.critical_path_secs),
            output::secs(p.sequential_secs)
        );
        outln!("  environments: {}", p.environments.join(", "));
        outln!();
    }
    Ok(0)
}
