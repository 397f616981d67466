//! Reads the catalog directory; validation is the core's.

use nightshift_core::catalog::{Catalog, CatalogError};
use std::path::Path;

/// Reads every `*.yaml`/`*.yml` file of the directory (sorted) and validates the whole catalog.
pub fn load(dir: &Path) -> Result<Catalog, CatalogError> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| CatalogError {
        file: shown.clone(),
        field: String::new(),
        message: format!(
            "cannot read the catalog directory ({e}): pass --catalog DIR or set NIGHTSHIFT_CATALOG"
        ),
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(CatalogError {
            file: shown,
            field: String::new(),
            message: "no *.yaml file: the catalog is empty".into(),
        });
    }
    let mut files = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(&p).map_err(|e| CatalogError {
            file: p.display().to_string(),
            field: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        files.push((p.display().to_string(), text));
    }
    Catalog::parse_files(&files)
}
