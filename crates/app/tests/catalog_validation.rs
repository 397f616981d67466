//! Every use case that acts runs the whole validation first (the catalog, then the stacks and playbooks it names),
//! and creates nothing before it passes: the release intake, the nightly timer and the sweep, with the local
//! adapters.

use nightshift_app::service::AppError;
use nightshift_app::{App, Settings};
use std::collections::BTreeMap;
use std::path::Path;

fn catalog(stack: &str) -> String {
    format!(
        r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  infra: {{ terraform: {{ stack: "{stack}" }} }}
environments:
  nightly:
    kind: nightly
    schedule: {{ at: "00:00", timezone: UTC, catch_up: 24h }}
  pr: {{ kind: pull-request }}
"#
    )
}

fn app(dir: &Path, stack: &str) -> App {
    std::fs::create_dir_all(dir.join("repo/terraform/infra")).unwrap();
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(dir.join("catalog/shop.yaml"), catalog(stack)).unwrap();
    let env: BTreeMap<&str, String> = [
        (
            "NIGHTSHIFT_STATE_DIR",
            dir.join("state").display().to_string(),
        ),
        (
            "NIGHTSHIFT_CATALOG",
            dir.join("catalog").display().to_string(),
        ),
        (
            "NIGHTSHIFT_REPO_ROOT",
            dir.join("repo").display().to_string(),
        ),
        ("NIGHTSHIFT_RUNNER", "true".to_string()),
    ]
    .into();
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    App::new(nightshift_app::wiring::local(&settings), settings)
}

const RELEASE: &str = r#"{"schema":"nightshift.release/v1","product":"shop","environment":"pr-1","version":"1.0.0","requested_by":"ci"}"#;

async fn nothing_created(app: &App) {
    let keys = app.ports.store.list("").await.unwrap();
    assert!(keys.is_empty(), "nothing is written: {keys:?}");
}

fn names_the_stack(e: AppError) {
    let text = e.to_string();
    assert!(
        matches!(e, AppError::Catalog(_))
            && text.contains("shop.yaml")
            && text.contains("steps.infra.terraform.stack"),
        "{text}"
    );
}

#[tokio::test]
async fn a_release_whose_stack_is_outside_the_repository_creates_nothing() {
    for stack in ["/etc", "../../../../tmp", "terraform/missing"] {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path(), stack);
        names_the_stack(app.release(RELEASE, "m-1").await.unwrap_err());
        nothing_created(&app).await;
    }
}

#[tokio::test]
async fn the_nightly_timer_and_the_sweep_refuse_a_catalog_whose_stack_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "terraform/missing");
    names_the_stack(app.nightly().await.unwrap_err());
    names_the_stack(app.sweep(None, true, 10).await.unwrap_err());
    nothing_created(&app).await;
}

#[tokio::test]
async fn a_release_whose_stack_is_in_the_repository_starts() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "terraform/infra");
    let out = app.release(RELEASE, "m-1").await.unwrap();
    assert_eq!(out.steps.len(), 1, "{:?}", out.logs);
}
