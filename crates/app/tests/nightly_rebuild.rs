//! The nightly timer and a night's environment destroyed since it was built: built again only on request (what
//! `nightshift up` leaves), once, under a run id of its own; never by the timer alone, so a lifetime shorter than
//! the catch-up window makes no sweep-and-rebuild loop.

use nightshift_app::repo::EnvironmentRecord;
use nightshift_app::{App, Settings};
use nightshift_core::RunId;
use std::collections::BTreeMap;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  app: { smoke: { command: [true] } }
environments:
  nightly:
    kind: nightly
    schedule: { at: "00:00", catch_up: 24h }
    lifetime: 1h
"#;

fn app(dir: &tempfile::TempDir) -> App {
    std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
    std::fs::write(dir.path().join("catalog/shop.yaml"), CATALOG).unwrap();
    let env: BTreeMap<&str, String> = [
        (
            "NIGHTSHIFT_STATE_DIR",
            dir.path().join("state").display().to_string(),
        ),
        (
            "NIGHTSHIFT_CATALOG",
            dir.path().join("catalog").display().to_string(),
        ),
    ]
    .into();
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    App::new(nightshift_app::wiring::local(&settings), settings)
}

async fn run_ids(app: &App) -> Vec<String> {
    let mut ids: Vec<String> = app
        .repo
        .runs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    ids.sort();
    ids
}

/// What the sweep leaves once every group of the environment went (its run having finished, as no job runs here).
async fn destroyed(app: &App, last_run: &str) {
    let id = RunId::parse(last_run).unwrap();
    let mut run = app.repo.run(&id).await.unwrap().unwrap();
    run.status = nightshift_core::run::RunStatus::Succeeded;
    app.repo.put_run(&run).await.unwrap();
    app.repo.clear_active(&id).await.unwrap();
    let mut rec: EnvironmentRecord = app
        .repo
        .environment("shop", "nightly")
        .await
        .unwrap()
        .unwrap();
    rec.last_run = last_run.to_string();
    rec.status = "destroyed".into();
    rec.destroyed_reason = Some("expired".into());
    app.repo.put_environment(&rec).await.unwrap();
}

#[tokio::test]
async fn a_destroyed_nights_environment_is_built_again_once_on_request_and_never_by_the_timer_alone(
) {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir);
    app.nightly().await.unwrap();
    let first = run_ids(&app).await;
    assert_eq!(first.len(), 1);
    destroyed(&app, &first[0]).await;

    // The timer alone: nothing is rebuilt.
    app.nightly().await.unwrap();
    assert_eq!(run_ids(&app).await, first);

    // On request: the night's second build, with a run id of its own; the destroyed one stays.
    let after = RunId::parse(&first[0]).unwrap();
    app.request_rebuild("shop", "nightly", &after, "alice@host")
        .await
        .unwrap();
    app.nightly().await.unwrap();
    app.nightly().await.unwrap();
    let ids = run_ids(&app).await;
    assert_eq!(ids, vec![first[0].clone(), format!("{}-2", first[0])]);
    let rec = app
        .repo
        .environment("shop", "nightly")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.last_run, ids[1]);
    assert_ne!(rec.status, "destroyed");

    // Once that build is destroyed too, the timer alone still rebuilds nothing; a stale request is dropped.
    destroyed(&app, &ids[1]).await;
    app.request_rebuild("shop", "nightly", &after, "alice@host")
        .await
        .unwrap();
    app.nightly().await.unwrap();
    assert_eq!(run_ids(&app).await.len(), 2);
    assert!(app
        .repo
        .store()
        .get(&nightshift_app::usecases::nightly::rebuild_key(
            "shop", "nightly"
        ))
        .await
        .unwrap()
        .is_none());
}
