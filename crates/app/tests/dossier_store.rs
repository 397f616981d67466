//! The per-environment dossier in the journal: generated after a run succeeds (the hook in the shared run-finish
//! path, here reached through the watchdog), linked from `status`, compared between two builds; never for a failed run.

mod support;

use nightshift_app::App;
use nightshift_core::run::{Run, RunStatus};
use nightshift_core::RunId;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  app: { smoke: { command: [true] } }
environments:
  pr: { kind: pull-request }
dossier:
  components:
    web: { name: Boutique, kind: container }
    mail: { name: Relais SMTP, url: "smtp://smtp.example.org:587" }
  flows:
    - { from: users, to: web, protocol: HTTPS, port: 443 }
"#;

fn app(dir: &std::path::Path) -> App {
    let settings = support::local_settings(dir, CATALOG, "true");
    App::new(nightshift_app::wiring::local(&settings), settings)
}

fn release(version: &str) -> String {
    format!(
        r#"{{"schema":"nightshift.release/v1","product":"shop","environment":"pr-3","version":"{version}","requested_by":"ci"}}"#
    )
}

/// Releases a version and finishes its run with `status`, as if its last step event had been applied and the
/// process died before the hand-over: the watchdog completes it (the same run-finish path as a step event).
async fn build(app: &App, version: &str, status: RunStatus) -> RunId {
    app.release(&release(version), &format!("m-{version}"))
        .await
        .unwrap();
    let mut run: Run = app
        .repo
        .runs()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.trigger.version() == version)
        .unwrap();
    run.status = status;
    run.finished_at = Some(chrono::Utc::now());
    app.repo.put_run(&run).await.unwrap();
    app.watchdog().await.unwrap();
    run.id
}

#[tokio::test]
async fn a_succeeded_run_stores_its_dossier_status_links_it_and_the_diff_shows_a_new_flow() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let first = build(&app, "1.0.0", RunStatus::Succeeded).await;

    let key = format!("dossiers/shop/pr-3/{first}.json");
    let status = app.status().await.unwrap();
    let summary = status.runs.iter().find(|r| r.id == first.as_str()).unwrap();
    assert_eq!(summary.dossier.as_deref(), Some(key.as_str()));
    let md = app
        .repo
        .store()
        .get(&key.replace(".json", ".md"))
        .await
        .unwrap()
        .expect("the document");
    let md = String::from_utf8(md.bytes).unwrap();
    assert!(
        md.contains("# Dossier technique — shop (pr-3)") && md.contains("**Version :** 1.0.0"),
        "{md}"
    );

    // The next build adds a flow to the catalog.
    let with_mail = CATALOG.replace(
        "    - { from: users, to: web, protocol: HTTPS, port: 443 }\n",
        "    - { from: users, to: web, protocol: HTTPS, port: 443 }\n    - { from: web, to: mail, protocol: SMTP, port: 587 }\n",
    );
    std::fs::write(dir.path().join("catalog/shop.yaml"), with_mail).unwrap();
    let second = build(&app, "1.0.1", RunStatus::Succeeded).await;

    let diff = app.dossier_diff(&first, &second).await.unwrap();
    assert_eq!(diff.flows_added, vec!["web -> mail (SMTP 587)"]);
    assert!(
        diff.flows_removed.is_empty() && diff.components_added.is_empty(),
        "{diff:?}"
    );
    assert!(app.dossier_diff(&first, &first).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_run_gets_no_dossier_and_a_diff_with_it_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let failed = build(&app, "1.0.0", RunStatus::Failed).await;
    let status = app.status().await.unwrap();
    assert_eq!(status.runs[0].dossier, None);
    assert!(app.repo.store().list("dossiers/").await.unwrap().is_empty());
    let err = app
        .dossier_diff(&failed, &failed)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no stored dossier") && err.contains("after each successful run"),
        "{err}"
    );
}

#[tokio::test]
async fn a_dossier_that_cannot_be_generated_does_not_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    app.release(&release("1.0.0"), "m-1").await.unwrap();
    // The catalog becomes unreadable before the run finishes: the dossier cannot be built.
    std::fs::write(dir.path().join("catalog/shop.yaml"), "schema: nope\n").unwrap();
    let mut run = app.repo.runs().await.unwrap().remove(0);
    run.status = RunStatus::Succeeded;
    app.repo.put_run(&run).await.unwrap();
    app.watchdog().await.expect("the run's hand-over completes");
    assert!(
        app.repo.active_runs().await.unwrap().is_empty(),
        "the run left the active index"
    );
    assert!(app.repo.store().list("dossiers/").await.unwrap().is_empty());
}
