//! What several app-level test binaries share: a catalog written into a temporary directory and the local settings
//! that point at it (state, catalog and repository root under that directory, and the given runner command).

use nightshift_app::Settings;
use std::collections::BTreeMap;
use std::path::Path;

/// Writes `catalog` as `catalog/shop.yaml` under `dir` and returns local settings for it, jobs running `runner`.
pub fn local_settings(dir: &Path, catalog: &str, runner: &str) -> Settings {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(dir.join("catalog/shop.yaml"), catalog).unwrap();
    let env: BTreeMap<&str, String> = [
        (
            "NIGHTSHIFT_STATE_DIR",
            dir.join("state").display().to_string(),
        ),
        (
            "NIGHTSHIFT_CATALOG",
            dir.join("catalog").display().to_string(),
        ),
        ("NIGHTSHIFT_REPO_ROOT", dir.display().to_string()),
        ("NIGHTSHIFT_RUNNER", runner.to_string()),
    ]
    .into();
    Settings::from_lookup(|k| env.get(k).cloned()).unwrap()
}
