//! The sweep and the layers that own resources outside their environment's resource group (issue 10, finding 2),
//! with the local adapters as fakes: a cloud that notes, at each group deletion, where the environment's teardown
//! run stood, and a Terraform state store. The teardown run's job is played by the step result it would report.

mod support;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nightshift_app::environments::record_from_run;
use nightshift_app::App;
use nightshift_core::catalog::Catalog;
use nightshift_core::expiry::ResourceGroup;
use nightshift_core::messages::{StepEventMessage, StepOutcome, STEP_EVENT_SCHEMA};
use nightshift_core::names::EnvironmentName;
use nightshift_core::planner::{plan, PlanRequest};
use nightshift_core::ports::{Cloud, Deletion, PortError, Precondition, Store};
use nightshift_core::run::{Run, RunStatus, StepStatus, Trigger};
use nightshift_core::{RunId, StepName};
use nightshift_local::cloud::LocalCloud;
use nightshift_local::store::FsStore;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
defaults: { retries: 0 }
steps:
  foundation: { terraform: { stack: tf/foundation } }
  dns:
    needs: [foundation]
    teardown: terraform
    terraform: { stack: tf/dns, vars: { rg: "${foundation.rg}" } }
environments:
  pr: { kind: pull-request, lifetime: 1d }
"#;

/// LocalCloud that notes each group deletion with the status of every teardown run in the store at that moment.
struct WatchingCloud {
    inner: LocalCloud,
    store: FsStore,
    deletions: Mutex<Vec<String>>,
}

#[async_trait]
impl Cloud for WatchingCloud {
    async fn list_managed(&self, instance: &str) -> Result<Vec<ResourceGroup>, PortError> {
        self.inner.list_managed(instance).await
    }
    async fn delete_group(&self, name: &str) -> Result<Deletion, PortError> {
        let repo = nightshift_app::repo::Repo::new(Arc::new(self.store.clone()));
        let teardowns: Vec<String> = repo
            .runs()
            .await?
            .into_iter()
            .filter(|r| r.trigger.is_teardown())
            .map(|r| format!("{:?}", r.status))
            .collect();
        self.deletions
            .lock()
            .unwrap()
            .push(format!("{name} (teardown runs: {})", teardowns.join(", ")));
        self.inner.delete_group(name).await
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn s(n: &str) -> StepName {
    StepName::parse(n).unwrap()
}

struct World {
    app: App,
    cloud: Arc<WatchingCloud>,
    tfstate: Arc<FsStore>,
    build: Run,
    _dir: tempfile::TempDir,
}

/// pr-1 built on 2026-12-01 (expires a day later): its group, its two layers' state, its run and its record.
async fn built() -> World {
    let dir = tempfile::tempdir().unwrap();
    for stack in ["tf/foundation", "tf/dns"] {
        std::fs::create_dir_all(dir.path().join(stack)).unwrap();
    }
    let settings = support::local_settings(dir.path(), CATALOG, "true");
    let catalog = Catalog::parse_files(&[("shop.yaml".into(), CATALOG.into())]).unwrap();
    let mut build = plan(PlanRequest {
        product: &catalog.products[0],
        environment: &EnvironmentName::parse("pr-1").unwrap(),
        trigger: Trigger::Release {
            version: "1.0.0".into(),
            requested_by: "ci".into(),
            message_id: "m-1".into(),
            commit_time: None,
        },
        ttl: None,
        instance: &settings.instance,
        now: at("2026-12-01T09:00:00Z"),
    })
    .unwrap();
    for (name, st) in build.steps.iter_mut() {
        st.status = StepStatus::Succeeded;
        st.attempt = 1;
        if name.as_str() == "foundation" {
            st.outputs = BTreeMap::from([("rg".into(), serde_json::json!("rg-shop-pr-1"))]);
        }
    }
    build.status = RunStatus::Succeeded;
    build.finished_at = Some(at("2026-12-01T09:10:00Z"));
    let local = LocalCloud::new(settings.cloud_dir());
    local.create_group("rg-shop-pr-1", &build.tags).unwrap();
    let cloud = Arc::new(WatchingCloud {
        inner: local,
        store: FsStore::new(settings.store_dir()),
        deletions: Mutex::default(),
    });
    let tfstate = Arc::new(FsStore::new(dir.path().join("tfstate")));
    for key in ["shop/pr-1/foundation.tfstate", "shop/pr-1/dns.tfstate"] {
        tfstate
            .put(key, b"{}".to_vec(), Precondition::None)
            .await
            .unwrap();
    }
    let mut ports = nightshift_app::wiring::local(&settings);
    ports.cloud = cloud.clone();
    ports.tfstate = Some(tfstate.clone());
    let app = App::new(ports, settings);
    assert!(app.repo.create_run(&build).await.unwrap());
    app.repo
        .put_environment(&record_from_run(None, &build))
        .await
        .unwrap();
    World {
        app,
        cloud,
        tfstate,
        build,
        _dir: dir,
    }
}

impl World {
    async fn sweep(&self) -> nightshift_app::service::SweepReport {
        self.app
            .sweep(Some(at("2026-12-03T00:00:00Z")), false, 10)
            .await
            .unwrap()
    }
    async fn teardowns(&self) -> Vec<Run> {
        let mut runs: Vec<Run> = self
            .app
            .repo
            .runs()
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.trigger.is_teardown())
            .collect();
        runs.sort_by_key(|r| r.created_at);
        runs
    }
    /// What the teardown run's `dns` job reports.
    async fn dns_job_reports(&self, run: &RunId, outcome: StepOutcome) {
        let msg = StepEventMessage {
            schema: STEP_EVENT_SCHEMA.into(),
            run_id: run.clone(),
            step: s("dns"),
            attempt: 1,
            outcome,
            exit_code: Some(if outcome == StepOutcome::Succeeded {
                0
            } else {
                1
            }),
            reason: (outcome != StepOutcome::Succeeded)
                .then(|| "terraform destroy: Cloudflare answered 403".into()),
            permanent: true,
            outputs: BTreeMap::new(),
            started_at: at("2026-12-03T00:01:00Z"),
            finished_at: at("2026-12-03T00:02:00Z"),
            log: None,
        };
        let body = serde_json::to_string(&msg).unwrap();
        self.app.step_event(&body, &msg.message_id()).await.unwrap();
    }
    fn group_exists(&self) -> bool {
        self.app
            .settings
            .cloud_dir()
            .join("resource-groups/rg-shop-pr-1")
            .exists()
    }
    async fn status(&self) -> String {
        self.app
            .repo
            .environment("shop", "pr-1")
            .await
            .unwrap()
            .unwrap()
            .status
    }
    async fn states(&self) -> Vec<String> {
        self.tfstate.list("shop/pr-1/").await.unwrap()
    }
}

#[tokio::test]
async fn the_sweep_destroys_a_layer_owning_resources_outside_the_group_before_the_group_and_records_the_environment_destroyed_only_after(
) {
    // Arrange
    let w = built().await;

    // Act: the pass after expiry, and a repeat of it before the teardown's job reported.
    let first = w.sweep().await;
    let again = w.sweep().await;

    // Assert: a teardown run destroys dns from the build; the group, the state and the record wait.
    let teardowns = w.teardowns().await;
    assert_eq!(teardowns.len(), 1, "a repeated pass starts nothing twice");
    let teardown = &teardowns[0];
    let dns = &teardown.steps[&s("dns")];
    assert_eq!(dns.teardown.as_ref(), Some(&w.build.id));
    assert_eq!(
        dns.status,
        StepStatus::Queued,
        "dispatched as a job like any step"
    );
    assert_eq!(
        teardown.steps.len(),
        1,
        "only the layer owning outside resources"
    );
    for report in [&first, &again] {
        let item = &report.items[0];
        assert_eq!(item.resource_group, "rg-shop-pr-1");
        assert!(
            item.action.starts_with("pending: destroying dns first"),
            "{item:?}"
        );
        assert_eq!((report.deleted, report.waiting, report.errors), (0, 1, 0));
    }
    assert!(w.group_exists());
    assert!(w.cloud.deletions.lock().unwrap().is_empty());
    assert_eq!(w.states().await.len(), 2);
    assert_eq!(w.status().await, "destroying");
    let pending = w.app.pending_deletions().await.unwrap();
    assert_eq!(
        pending[0].teardown.as_ref().map(|t| t.run.as_str()),
        Some(teardown.id.as_str()),
        "the teardown is recorded with the pending deletion"
    );

    // Act: the destroy job succeeds.
    w.dns_job_reports(&teardown.id, StepOutcome::Succeeded)
        .await;

    // Assert: then, and only then, the group, the state and the record.
    assert_eq!(
        *w.cloud.deletions.lock().unwrap(),
        vec!["rg-shop-pr-1 (teardown runs: Succeeded)".to_string()]
    );
    assert!(!w.group_exists());
    assert!(w.states().await.is_empty());
    assert_eq!(w.status().await, "destroyed");
    assert!(w.app.pending_deletions().await.unwrap().is_empty());

    // A later pass has nothing left to do.
    let last = w.sweep().await;
    assert!(last.items.is_empty(), "{:?}", last.items);
    assert_eq!(w.teardowns().await.len(), 1);
}

#[tokio::test]
async fn a_failed_teardown_keeps_the_group_and_the_state_and_is_tried_again_as_the_next_attempt_on_a_later_pass(
) {
    // Arrange: the first teardown's destroy fails.
    let w = built().await;
    w.sweep().await;
    let first = w.teardowns().await.remove(0);
    w.dns_job_reports(&first.id, StepOutcome::Failed).await;

    // Assert: nothing deleted, nothing forgotten.
    assert!(w.group_exists());
    assert_eq!(w.states().await.len(), 2);
    assert_ne!(w.status().await, "destroyed");

    // Act: the next pass.
    let report = w.sweep().await;

    // Assert: reported as an error, and tried again as a new run.
    assert_eq!(report.errors, 1, "{:?}", report.items);
    let item = &report.items[0];
    assert!(
        item.action.starts_with("error: layers dns not destroyed")
            && item.action.contains("Cloudflare answered 403")
            && item.action.contains("groups and state kept"),
        "{item:?}"
    );
    let teardowns = w.teardowns().await;
    assert_eq!(teardowns.len(), 2);
    assert!(matches!(
        teardowns[1].trigger,
        Trigger::Teardown { attempt: 2, .. }
    ));
    assert!(w.group_exists());
    assert!(w.cloud.deletions.lock().unwrap().is_empty());

    // Act: the second attempt succeeds.
    w.dns_job_reports(&teardowns[1].id, StepOutcome::Succeeded)
        .await;

    // Assert
    assert!(!w.group_exists());
    assert!(w.states().await.is_empty());
    assert_eq!(w.status().await, "destroyed");
}

#[tokio::test]
async fn a_pass_that_died_after_recording_the_teardown_starts_that_same_run_on_the_next_pass() {
    // Arrange: the teardown was recorded, but its run never written (the process died in between).
    let w = built().await;
    w.sweep().await;
    let teardown = w.teardowns().await.remove(0);
    for key in [
        nightshift_app::repo::run_key(&teardown.id),
        nightshift_app::repo::journal_key(&teardown.id),
    ] {
        w.app.repo.store().delete(&key).await.unwrap();
    }
    w.app.repo.clear_active(&teardown.id).await.unwrap();
    assert!(w.app.repo.run(&teardown.id).await.unwrap().is_none());

    // Act
    let report = w.sweep().await;

    // Assert: the same run, not a second attempt.
    let teardowns = w.teardowns().await;
    assert_eq!(teardowns.len(), 1);
    assert_eq!(teardowns[0].id, teardown.id);
    assert_eq!(report.errors, 0, "{:?}", report.items);
    assert!(w.group_exists());
}

#[tokio::test]
async fn close_destroys_the_layer_owning_resources_outside_the_group_before_the_group_as_the_sweep_does(
) {
    // Arrange
    let w = built().await;
    let body = r#"{"schema":"nightshift.release/v1","action":"close","product":"shop","environment":"pr-1","requested_by":"alice"}"#;

    // Act: the pull request closes (and the message is delivered twice).
    let out = w.app.release(body, "close-1").await.unwrap();
    let again = w.app.release(body, "close-1").await.unwrap();

    // Assert: a teardown run, dispatched through the invocation's output binding; the group waits.
    let teardowns = w.teardowns().await;
    assert_eq!(teardowns.len(), 1, "a redelivery starts nothing twice");
    assert_eq!(out.steps.len(), 1, "{out:?}");
    assert!(out.steps[0].contains(teardowns[0].id.as_str()));
    assert!(again.steps.is_empty() || again.steps == out.steps);
    assert!(w.group_exists());
    assert!(w.cloud.deletions.lock().unwrap().is_empty());
    assert_eq!(w.status().await, "destroying");

    // Act: the destroy job succeeds.
    w.dns_job_reports(&teardowns[0].id, StepOutcome::Succeeded)
        .await;

    // Assert
    assert_eq!(
        *w.cloud.deletions.lock().unwrap(),
        vec!["rg-shop-pr-1 (teardown runs: Succeeded)".to_string()]
    );
    let rec = w
        .app
        .repo
        .environment("shop", "pr-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, "destroyed");
    assert_eq!(rec.destroyed_reason.as_deref(), Some("closed by alice"));
    assert!(w.states().await.is_empty());
}

#[tokio::test]
async fn an_environment_built_again_after_its_teardown_failed_is_not_destroyed_by_the_old_pending_deletion(
) {
    // Arrange: the teardown failed; then tonight's build of pr-1 (a release) took the environment again.
    let w = built().await;
    w.sweep().await;
    let first = w.teardowns().await.remove(0);
    w.dns_job_reports(&first.id, StepOutcome::Failed).await;
    let mut rebuild = w.build.clone();
    rebuild.id = RunId::parse("shop.pr-1.r1-0-1-abc").unwrap();
    rebuild.created_at = Utc::now() + chrono::Duration::seconds(1);
    let mut tags = rebuild.tags.clone();
    tags.insert(
        "nightshift-expires-at".into(),
        "2026-12-09T00:00:00Z".into(),
    );
    rebuild.tags = tags;
    assert!(w.app.repo.create_run(&rebuild).await.unwrap());
    w.app
        .repo
        .update_environment("shop", "pr-1", |prev| Some(record_from_run(prev, &rebuild)))
        .await
        .unwrap();
    // Its Terraform re-tagged the group with the new expiry.
    let tags: BTreeMap<String, String> = rebuild.tags.clone();
    w.cloud
        .inner
        .merge_tags("rg-shop-pr-1", &tags)
        .await
        .unwrap();

    // Act
    let report = w.sweep().await;

    // Assert: no second teardown, the group and the state stay, the old pending deletion is dropped.
    assert_eq!(w.teardowns().await.len(), 1, "{:?}", report.items);
    assert!(
        report.items[0]
            .action
            .starts_with("kept: built again since"),
        "{:?}",
        report.items
    );
    assert!(w.group_exists());
    assert_eq!(w.states().await.len(), 2);
    assert!(w.app.pending_deletions().await.unwrap().is_empty());
    assert_eq!(w.status().await, "ready");
}

#[tokio::test]
async fn an_environment_whose_record_is_lost_still_has_its_outside_layers_destroyed_first_found_through_its_run_index(
) {
    // Arrange: the build applied dns, then the environment record was lost.
    let w = built().await;
    w.app
        .repo
        .store()
        .delete("environments/shop/pr-1.json")
        .await
        .unwrap();
    assert!(w
        .app
        .repo
        .environment("shop", "pr-1")
        .await
        .unwrap()
        .is_none());

    // Act
    let report = w.sweep().await;

    // Assert: the teardown of dns starts from the build found in the index; the group waits for it.
    let teardowns = w.teardowns().await;
    assert_eq!(teardowns.len(), 1, "{:?}", report.items);
    assert_eq!(
        teardowns[0].steps[&s("dns")].teardown.as_ref(),
        Some(&w.build.id)
    );
    assert!(w.group_exists(), "the group waits for its outside layers");
    assert!(w.cloud.deletions.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_late_repeat_of_the_builds_own_update_does_not_bring_an_environment_being_destroyed_back_to_ready(
) {
    // Arrange: the sweep started the teardown (its destroy failed: the record says destroying).
    let w = built().await;
    w.sweep().await;
    let first = w.teardowns().await.remove(0);
    w.dns_job_reports(&first.id, StepOutcome::Failed).await;
    assert_eq!(w.status().await, "destroying");

    // Act: the build's own finish is recorded again, late (a redelivered result, a repeated bookkeeping pass).
    w.app
        .repo
        .update_environment("shop", "pr-1", |prev| Some(record_from_run(prev, &w.build)))
        .await
        .unwrap();

    // Assert
    assert_eq!(w.status().await, "destroying");
}
