//! `nightshift validate`: the catalog parses, every stack and playbook it names resolves inside the repository (the
//! same validation every command that acts runs first: `catalog_files::load_validated`), and the dossier's
//! annotations hold.

use crate::cli::Global;

pub async fn run(g: &Global) -> anyhow::Result<i32> {
    let s = super::settings(g)?;
    let catalog =
        match nightshift_app::catalog_files::load_validated(&s.catalog_dir, Some(&s.repo_root)) {
            Ok(c) => c,
            Err(problems) => {
                for p in &problems {
                    errln!("error: {p}");
                }
                errln!("The catalog format is described in docs/catalog.md.");
                return Ok(1);
            }
        };
    let problems = super::dossier::check_annotations(&s, &catalog);
    for p in &problems {
        errln!("error: {p}");
    }
    if !problems.is_empty() {
        return Ok(1);
    }
    let steps: usize = catalog.products.values().map(|p| p.steps.len()).sum();
    let envs: usize = catalog
        .products
        .values()
        .map(|p| p.environments.len())
        .sum();
    outln!(
        "catalog OK: {} products, {steps} steps, {envs} environments ({})",
        catalog.products.len(),
        s.catalog_dir.display()
    );
    Ok(0)
}
