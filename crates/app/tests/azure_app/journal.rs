//! The run journal through `Repo` on the local store (`FsStore`) and on Blob Storage (`BlobStore` on Azurite, the
//! real emulator): the same events give the same document, and conditional updates lose nothing on either.

use crate::azurite::{azurite, ACCOUNT, KEY};
use chrono::{DateTime, Duration, TimeZone, Utc};
use nightshift_app::repo::Repo;
use nightshift_azure::{BlobAuth, BlobStore, ReqwestTransport, Secret};
use nightshift_core::catalog::Catalog;
use nightshift_core::engine::{self, Event};
use nightshift_core::names::{EnvironmentName, JobName, StepName};
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::ports::Store;
use nightshift_core::run::{JournalEntry, Run, RunStatus, StepStatus, Trigger};
use nightshift_local::store::FsStore;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: azure
defaults: { retries: 2, backoff: 30s }
steps:
  foundation: { terraform: { stack: stacks/foundation } }
  db:
    needs: [foundation]
    retries: 0
    resources: { cpu: 1.5, memory_gb: 3 }
    secrets: { DB_PASSWORD: shop-sql-admin }
    terraform: { stack: stacks/db, vars: { rg: "${foundation.rg}" } }
  web:
    needs: [foundation]
    terraform: { stack: stacks/web }
  seed:
    needs: [db, web]
    ansible: { playbook: seeds/seed.yml }
environments:
  pr: { kind: pull-request, lifetime: 3d }
"#;

/// Four independent steps, all queued at once.
const FANOUT: &str = r#"
schema: nightshift.catalog/v1
product: fanout
platform: azure
steps:
  probe-a: { smoke: { command: [probe, a] } }
  probe-b: { smoke: { command: [probe, b] } }
  probe-c: { smoke: { command: [probe, c] } }
  probe-d: { smoke: { command: [probe, d] } }
environments:
  pr: { kind: pull-request }
"#;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A store on a fresh container of the shared Azurite, or `None` when Azurite is skipped (not installed and
/// `NIGHTSHIFT_REQUIRE_AZURITE` unset).
async fn blob_store() -> Option<Arc<dyn Store>> {
    let az = azurite()?;
    let container = format!(
        "app{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let store = BlobStore::new(
        ACCOUNT,
        Some(&az.endpoint),
        &container,
        BlobAuth::Key(Secret::new(KEY)),
        Arc::new(ReqwestTransport::new()),
    );
    store.ensure_container().await.expect("create container");
    Some(Arc::new(store))
}

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 2, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn step(name: &str) -> StepName {
    StepName::parse(name).unwrap()
}

fn planned(product: &str, environment: &str) -> Run {
    let catalog = Catalog::parse_files(&[
        ("catalog/shop.yaml".into(), CATALOG.into()),
        ("catalog/fanout.yaml".into(), FANOUT.into()),
    ])
    .unwrap();
    planner::plan(PlanRequest {
        product: catalog.product(product).unwrap(),
        environment: &EnvironmentName::parse(environment).unwrap(),
        trigger: Trigger::Release {
            version: "1.4.2".into(),
            requested_by: "pipeline".into(),
            message_id: format!("release-{environment}"),
            commit_time: None,
        },
        ttl: None,
        instance: crate::INSTANCE,
        now: t(0),
    })
    .unwrap()
}

/// A realistic night: the run starts, foundation succeeds with outputs, db fails for good with a reason, web
/// succeeds, and seed is cancelled.
fn history(run: &Run) -> Vec<(Event, DateTime<Utc>)> {
    let started = |s: &str| Event::JobStarted {
        step: step(s),
        attempt: 1,
        job: JobName::for_attempt(&run.id, &step(s), 1),
    };
    vec![
        (Event::Start, t(0)),
        (started("foundation"), t(1)),
        (
            Event::StepSucceeded {
                step: step("foundation"),
                attempt: 1,
                outputs: BTreeMap::from([
                    ("rg".to_string(), json!("rg-shop-pr-7")),
                    ("location".to_string(), json!("westeurope")),
                    ("zones".to_string(), json!([1, 2, 3])),
                    (
                        "sql".to_string(),
                        json!({"sku": "S0", "max_gb": 250, "geo": false, "ratio": 0.5}),
                    ),
                    (
                        "note".to_string(),
                        json!("ünïcödé ✓ \"quoted\"\nsecond line"),
                    ),
                ]),
            },
            t(7),
        ),
        (started("db"), t(8)),
        (started("web"), t(8)),
        (
            Event::StepFailed {
                step: step("db"),
                attempt: 1,
                reason:
                    "terraform apply: Error: creating Server: unexpected status 409 (QuotaExceeded)"
                        .into(),
                retryable: true,
            },
            t(15),
        ),
        (
            Event::StepSucceeded {
                step: step("web"),
                attempt: 1,
                outputs: BTreeMap::from([("url".to_string(), json!("https://pr-7.shop.example"))]),
            },
            t(16),
        ),
    ]
}

/// Writes `run` and applies `events` through the repo, as the use cases do.
async fn write(repo: &Repo, run: &Run, events: &[(Event, DateTime<Utc>)]) {
    assert!(repo.create_run(run).await.unwrap());
    for (e, at) in events {
        let (_, _, changed) = repo.apply(&run.id, e, *at).await.unwrap().unwrap();
        assert!(changed, "{e:?} applies");
    }
}

/// The same events applied in memory by the engine alone.
fn expected(run: &Run, events: &[(Event, DateTime<Utc>)]) -> Run {
    events
        .iter()
        .fold(run.clone(), |r, (e, at)| engine::apply(&r, e, *at).run)
}

#[tokio::test]
async fn a_journal_written_by_the_local_store_and_by_the_blob_store_reads_back_the_same() {
    // Arrange
    let Some(blob) = blob_store().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let local = Repo::new(Arc::new(FsStore::new(dir.path())));
    let blob = Repo::new(blob);
    let run = planned("shop", "pr-7");
    let events = history(&run);
    let original = expected(&run, &events);

    // Act
    write(&local, &run, &events).await;
    write(&blob, &run, &events).await;
    let from_local = local.run(&run.id).await.unwrap().unwrap();
    let from_blob = blob.run(&run.id).await.unwrap().unwrap();

    // Assert
    assert_eq!(from_local, from_blob);
    assert_eq!(from_blob, original);
    assert_eq!(from_blob.journal, original.journal);
    assert_eq!(from_blob.status, RunStatus::Failed);
    assert_eq!(from_blob.steps[&step("seed")].status, StepStatus::Cancelled);
    assert_eq!(
        from_blob.steps[&step("foundation")].outputs["note"],
        json!("ünïcödé ✓ \"quoted\"\nsecond line")
    );
    let db_failed = from_blob
        .journal
        .iter()
        .find(|e| e.step == Some(step("db")) && e.to == "failed")
        .expect("db's failure is journaled");
    assert!(
        db_failed
            .reason
            .as_deref()
            .unwrap()
            .contains("QuotaExceeded"),
        "{db_failed:?}"
    );
    assert_eq!(
        from_blob.journal.len(),
        original.journal.len(),
        "{:#?}",
        from_blob.journal
    );
}

/// A journal's entries in a canonical order: concurrent writers journal in the order they won.
fn canonical(mut run: Run) -> Run {
    let key = |e: &JournalEntry| {
        (
            e.at,
            e.step.as_ref().map(|s| s.to_string()),
            e.from.clone(),
            e.to.clone(),
        )
    };
    run.journal.sort_by_key(key);
    run
}

/// Sixteen writers at once on one run: the four probes' job starts, each delivered four times.
async fn race(repo: &Repo, run: &Run) -> usize {
    write(repo, run, &[(Event::Start, t(0))]).await;
    let tasks: Vec<_> = ["probe-a", "probe-b", "probe-c", "probe-d"]
        .iter()
        .cycle()
        .take(16)
        .map(|s| {
            let repo = repo.clone();
            let event = Event::JobStarted {
                step: step(s),
                attempt: 1,
                job: JobName::for_attempt(&run.id, &step(s), 1),
            };
            let id = run.id.clone();
            tokio::spawn(async move { repo.apply(&id, &event, t(1)).await.unwrap().unwrap().2 })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        applied += usize::from(task.await.unwrap());
    }
    applied
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_conditional_update_race_through_the_repo_gives_the_same_document_on_both_stores() {
    // Arrange
    let Some(blob) = blob_store().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let local = Repo::new(Arc::new(FsStore::new(dir.path())));
    let blob = Repo::new(blob);
    let run = planned("fanout", "pr-8");
    let probes = ["probe-a", "probe-b", "probe-c", "probe-d"];
    let sequential = expected(
        &run,
        &std::iter::once((Event::Start, t(0)))
            .chain(probes.iter().map(|s| {
                (
                    Event::JobStarted {
                        step: step(s),
                        attempt: 1,
                        job: JobName::for_attempt(&run.id, &step(s), 1),
                    },
                    t(1),
                )
            }))
            .collect::<Vec<_>>(),
    );

    // Act
    let applied_local = race(&local, &run).await;
    let applied_blob = race(&blob, &run).await;

    // Assert: each start applied once (the repeats changed nothing), none lost, the same document on both.
    assert_eq!((applied_local, applied_blob), (4, 4));
    let from_local = canonical(local.run(&run.id).await.unwrap().unwrap());
    let from_blob = canonical(blob.run(&run.id).await.unwrap().unwrap());
    assert_eq!(from_local, from_blob);
    assert_eq!(from_blob, canonical(sequential));
    for p in probes {
        assert_eq!(from_blob.steps[&step(p)].status, StepStatus::Running, "{p}");
    }
}
