//! The sweep use case with the local adapters as fakes: a cloud whose deletion of one group fails, and a Terraform
//! state store to see what is forgotten.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nightshift_app::{App, Settings};
use nightshift_core::expiry::{tags, ResourceGroup};
use nightshift_core::ports::{Cloud, Deletion, PortError, Precondition, Store};
use nightshift_local::cloud::LocalCloud;
use nightshift_local::store::FsStore;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  app: { smoke: { command: [true] } }
environments:
  pr: { kind: pull-request }
  main: { kind: persistent }
"#;

/// LocalCloud, except that deleting `fails` errors, and every call is recorded.
struct FlakyCloud {
    inner: LocalCloud,
    fails: String,
    purged: Mutex<Vec<String>>,
}

#[async_trait]
impl Cloud for FlakyCloud {
    async fn list_managed(&self, instance: &str) -> Result<Vec<ResourceGroup>, PortError> {
        self.inner.list_managed(instance).await
    }
    async fn delete_group(&self, name: &str) -> Result<Deletion, PortError> {
        if name == self.fails {
            return Err(PortError::Transient("ARM answered 503".into()));
        }
        self.inner.delete_group(name).await
    }
    async fn purge_deleted_vaults(&self, group: &str) -> Result<Vec<String>, PortError> {
        self.purged.lock().unwrap().push(group.to_string());
        Ok(vec![format!("kv-{group}")])
    }
}

fn group_tags(env: &str, expires: &str) -> BTreeMap<String, String> {
    [
        (tags::MANAGED_BY, "nightshift"),
        (tags::PRODUCT, "shop"),
        (tags::ENVIRONMENT, env),
        (tags::RUN, "shop.x.n1"),
        (tags::KIND, "pull-request"),
        (tags::EXPIRES_AT, expires),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// An app on a temp state dir whose cloud holds `groups` (name, environment; all expired) and fails to delete
/// `fails`, and whose Terraform state store holds `states`.
async fn setup(
    groups: &[(&str, &str)],
    fails: &str,
    states: &[&str],
) -> (App, Arc<FlakyCloud>, Arc<FsStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
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
    let local = LocalCloud::new(settings.cloud_dir());
    for (name, environment) in groups {
        local
            .create_group(name, &group_tags(environment, "2026-11-20T00:00:00Z"))
            .unwrap();
    }
    let cloud = Arc::new(FlakyCloud {
        inner: local,
        fails: fails.into(),
        purged: Mutex::default(),
    });
    let tfstate = Arc::new(FsStore::new(dir.path().join("tfstate")));
    for key in states {
        tfstate
            .put(key, b"{}".to_vec(), Precondition::None)
            .await
            .unwrap();
    }
    let mut ports = nightshift_app::wiring::local(&settings);
    ports.cloud = cloud.clone();
    ports.tfstate = Some(tfstate.clone());
    (App::new(ports, settings), cloud, tfstate, dir)
}

#[tokio::test]
async fn an_environment_is_forgotten_only_when_all_its_groups_went_and_their_vaults_are_purged() {
    // Arrange: pr-1 has two expired groups, one of which cannot be deleted now; pr-2 has one expired group.
    let (app, cloud, tfstate, _dir) = setup(
        &[
            ("rg-shop-pr-1", "pr-1"),
            ("rg-shop-pr-1-data", "pr-1"),
            ("rg-shop-pr-2", "pr-2"),
        ],
        "rg-shop-pr-1-data",
        &[
            "shop/pr-1/foundation.tfstate",
            "shop/pr-2/foundation.tfstate",
            "shop/pr-2/data.tfstate",
        ],
    )
    .await;
    // Act
    let report = app
        .sweep(Some(at("2026-11-21T00:00:00Z")), false, 10)
        .await
        .unwrap();

    // Assert
    assert_eq!((report.deleted, report.errors), (2, 1), "{report:#?}");
    let action = |g: &str| {
        report
            .items
            .iter()
            .find(|i| i.resource_group == g)
            .unwrap()
            .action
            .clone()
    };
    assert_eq!(action("rg-shop-pr-1"), "deleted, purged kv-rg-shop-pr-1");
    assert!(action("rg-shop-pr-1-data").starts_with("error: transient: ARM answered 503"));
    assert_eq!(
        tfstate.list("shop/").await.unwrap(),
        vec!["shop/pr-1/foundation.tfstate".to_string()],
        "pr-2's state is gone, pr-1's kept until all its groups go"
    );
    let mut purged = cloud.purged.lock().unwrap().clone();
    purged.sort();
    assert_eq!(
        purged,
        vec!["rg-shop-pr-1".to_string(), "rg-shop-pr-2".to_string()],
        "vaults are purged only after a deletion"
    );
}

#[tokio::test]
async fn a_dry_run_deletes_purges_and_forgets_nothing() {
    let (app, cloud, tfstate, _dir) = setup(
        &[("rg-shop-pr-2", "pr-2")],
        "",
        &["shop/pr-2/foundation.tfstate"],
    )
    .await;
    let report = app
        .sweep(Some(at("2026-11-21T00:00:00Z")), true, 10)
        .await
        .unwrap();

    assert_eq!(report.items[0].action, "would-delete");
    assert_eq!(cloud.inner.list_all().unwrap().len(), 1);
    assert!(cloud.purged.lock().unwrap().is_empty());
    assert_eq!(tfstate.list("shop/").await.unwrap().len(), 1);
}

/// LocalCloud, except that deleting `waits_for_group` first waits (a bounded number of polls) until the store records
/// `pr-1` as destroyed: it sees whether a deletion is recorded as it happens, or only when the sweep ends.
struct WatchingCloud {
    inner: LocalCloud,
    store: Arc<dyn Store>,
    waits_for_group: String,
}

#[async_trait]
impl Cloud for WatchingCloud {
    async fn list_managed(&self, instance: &str) -> Result<Vec<ResourceGroup>, PortError> {
        self.inner.list_managed(instance).await
    }
    async fn delete_group(&self, name: &str) -> Result<Deletion, PortError> {
        if name == self.waits_for_group {
            let mut recorded = false;
            for _ in 0..500 {
                let rec = self.store.get("environments/shop/pr-1.json").await?;
                if rec.is_some_and(|v| String::from_utf8_lossy(&v.bytes).contains("destroyed")) {
                    recorded = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            if !recorded {
                return Err(PortError::Permanent(
                    "pr-1's deletion was not recorded while the sweep went on".into(),
                ));
            }
        }
        self.inner.delete_group(name).await
    }
}

fn record(env: &str) -> String {
    serde_json::json!({
        "product": "shop", "environment": env, "kind": "pull-request", "last_run": "shop.x.n1",
        "status": "ready", "expires_at": "2026-11-20T00:00:00Z", "destroyed_at": null, "destroyed_reason": null,
    })
    .to_string()
}

#[tokio::test]
async fn a_sweep_records_each_deletion_as_it_happens_and_reports_a_garbled_record_without_stopping()
{
    // Arrange: three expired environments; pr-2's record is garbled; pr-3's deletion waits to see pr-1's recorded.
    let (app, _cloud, _tfstate, dir) = setup(&[], "", &[]).await;
    let local = LocalCloud::new(app.settings.cloud_dir());
    for (group, env) in [
        ("rg-shop-pr-1", "pr-1"),
        ("rg-shop-pr-2", "pr-2"),
        ("rg-shop-pr-3", "pr-3"),
    ] {
        local
            .create_group(group, &group_tags(env, "2026-11-20T00:00:00Z"))
            .unwrap();
    }
    let store = app.ports.store.clone();
    for env in ["pr-1", "pr-3"] {
        store
            .put(
                &format!("environments/shop/{env}.json"),
                record(env).into_bytes(),
                Precondition::None,
            )
            .await
            .unwrap();
    }
    let garbled = b"{\"product\": \"shop\", \"environ".to_vec();
    store
        .put(
            "environments/shop/pr-2.json",
            garbled.clone(),
            Precondition::None,
        )
        .await
        .unwrap();
    let mut ports = app.ports.clone();
    ports.cloud = Arc::new(WatchingCloud {
        inner: LocalCloud::new(app.settings.cloud_dir()),
        store: store.clone(),
        waits_for_group: "rg-shop-pr-3".into(),
    });
    let app = App::new(ports, app.settings.clone());

    // Act
    let report = app
        .sweep(Some(at("2026-11-21T00:00:00Z")), false, 10)
        .await
        .expect("a bad record does not stop the sweep");

    // Assert
    assert_eq!((report.deleted, report.errors), (3, 1), "{report:#?}");
    let item = |g: &str| {
        report
            .items
            .iter()
            .find(|i| i.resource_group == g)
            .unwrap()
            .clone()
    };
    assert_eq!(item("rg-shop-pr-3").action, "deleted", "{report:#?}");
    let bad = item("rg-shop-pr-2").action;
    assert!(
        bad.starts_with("deleted")
            && bad.contains("environments/shop/pr-2.json")
            && bad.contains("not marked destroyed"),
        "{bad}"
    );
    for env in ["pr-1", "pr-3"] {
        let rec = app.repo.environment("shop", env).await.unwrap().unwrap();
        assert_eq!(rec.status, "destroyed", "{env}");
    }
    assert_eq!(
        store
            .get("environments/shop/pr-2.json")
            .await
            .unwrap()
            .unwrap()
            .bytes,
        garbled,
        "the garbled record is left as it was, for a look"
    );
    assert!(local.list_all().unwrap().is_empty(), "{:?}", dir.path());
}
