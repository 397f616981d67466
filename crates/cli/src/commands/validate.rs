//! `nightshift validate`: the catalog parses, and every stack and playbook it names exists.

use crate::cli::Global;
use nightshift_core::catalog::Action;

pub async fn run(g: &Global) -> anyhow::Result<i32> {
    let s = super::settings(g)?;
    let catalog = match nightshift_app::catalog_files::load(&s.catalog_dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("The catalog format is described in docs/catalog.md.");
            return Ok(1);
        }
    };
    let mut problems = Vec::new();
    let (mut steps, mut envs) = (0, 0);
    for p in catalog.products.values() {
        envs += p.environments.len();
        for st in p.steps.values() {
            steps += 1;
            let (what, path) = match &st.action {
                Action::Terraform { stack, .. } => ("stack", s.repo_root.join(stack)),
                Action::Ansible { playbook, .. } => ("playbook", s.repo_root.join(playbook)),
                Action::Smoke { .. } => continue,
            };
            if !path.exists() {
                problems.push(format!(
                    "{}: steps.{}: {what} {} does not exist",
                    p.source,
                    st.name,
                    path.display()
                ));
            }
        }
    }
    if problems.is_empty() {
        problems.extend(super::dossier::check_annotations(&s, &catalog));
    }
    for p in &problems {
        eprintln!("error: {p}");
    }
    if !problems.is_empty() {
        return Ok(1);
    }
    println!(
        "catalog OK: {} products, {steps} steps, {envs} environments ({})",
        catalog.products.len(),
        s.catalog_dir.display()
    );
    Ok(0)
}
