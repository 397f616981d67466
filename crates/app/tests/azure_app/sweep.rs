//! The expiry sweep (`App::sweep`) over `ArmCloud` against the REST contract: the loopback fake follows the
//! documented ARM resource-group API (tag-filtered listing paged by `nextLink`, `DELETE` as a long-running
//! operation, 429 with `Retry-After`), because no emulator exists for ARM. A subscription of about three thousand
//! resource groups, listed over many pages, with throttled and failing requests.

use crate::fake_arm::{spawn_fake_arm, FakeArm, Scripted, SUBSCRIPTION};
use crate::{arm_client, spawn_app, TestApp, INSTANCE};
use chrono::{DateTime, Duration, TimeZone, Utc};
use nightshift_azure::ArmCloud;
use nightshift_core::expiry::tags;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: azure
steps:
  app: { terraform: { stack: stacks/app } }
environments:
  pr: { kind: pull-request }
  main: { kind: persistent }
"#;

/// What one subscription holds, by what the sweep must do with it.
struct Subscription {
    fake: FakeArm,
    /// Managed by this instance and expired: name -> expiry.
    expired: BTreeMap<String, DateTime<Utc>>,
    /// Everything else: never to be touched.
    others: BTreeSet<String>,
    /// Expired groups whose DELETE is scripted to fail first, and how many times.
    failing_deletes: BTreeMap<String, usize>,
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap()
}

fn group_tags(
    managed_by: Option<&str>,
    env: &str,
    kind: &str,
    expires: Option<String>,
) -> Vec<(&'static str, String)> {
    let mut t = vec![
        (tags::PRODUCT, "shop".to_string()),
        (tags::ENVIRONMENT, env.to_string()),
        (tags::RUN, format!("shop.{env}.n20261120")),
        (tags::KIND, kind.to_string()),
    ];
    if let Some(owner) = managed_by {
        t.push((tags::MANAGED_BY, owner.to_string()));
    }
    if let Some(e) = expires {
        t.push((tags::EXPIRES_AT, e));
    }
    t
}

/// 3001 groups; of them the 500 of category 0 are the only ones the sweep may delete.
async fn subscription_of_3000_groups() -> Subscription {
    let fake = spawn_fake_arm().await;
    fake.set(|s| s.page_size = 100);
    let mut expired = BTreeMap::new();
    let mut others = BTreeSet::new();
    let minutes = |m: i64| tags::format_time(now() + Duration::minutes(m));
    for i in 0..3000i64 {
        let (name, t) = match i % 6 {
            // Ours, expired: between one minute and about four days ago, every expiry distinct.
            0 => {
                let name = format!("rg-shop-pr-{i}");
                expired.insert(name.clone(), now() - Duration::minutes(i + 1));
                let t = group_tags(
                    Some(INSTANCE),
                    &format!("pr-{i}"),
                    "pull-request",
                    Some(minutes(-(i + 1))),
                );
                (name, t)
            }
            // Ours, not yet expired.
            1 => (
                format!("rg-shop-pr-{i}"),
                group_tags(
                    Some(INSTANCE),
                    &format!("pr-{i}"),
                    "pull-request",
                    Some(minutes(i + 1)),
                ),
            ),
            // Ours, persistent by its tag, no expiry.
            2 => (
                format!("rg-shop-stable-{i}"),
                group_tags(Some(INSTANCE), &format!("stable-{i}"), "persistent", None),
            ),
            // Ours, persistent only by the catalog (`main`), though its tags say it expired.
            3 => (
                format!("rg-shop-main-{i}"),
                group_tags(Some(INSTANCE), "main", "nightly", Some(minutes(-60))),
            ),
            // Another instance's, expired.
            4 => (
                format!("rg-staging-pr-{i}"),
                group_tags(
                    Some("nightshift-staging"),
                    &format!("pr-{i}"),
                    "pull-request",
                    Some(minutes(-60)),
                ),
            ),
            // Nobody's (no managed-by tag), though it carries an expired expiry.
            _ => (
                format!("rg-someone-{i}"),
                group_tags(None, &format!("pr-{i}"), "pull-request", Some(minutes(-60))),
            ),
        };
        if !expired.contains_key(&name) {
            others.insert(name.clone());
        }
        let t: Vec<(&str, &str)> = t.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fake.add_group(&name, &t);
    }
    // Ours, with an expiry a person typed by hand.
    fake.add_group(
        "rg-shop-pr-typo",
        &[
            (tags::MANAGED_BY, INSTANCE),
            (tags::PRODUCT, "shop"),
            (tags::ENVIRONMENT, "pr-typo"),
            (tags::KIND, "pull-request"),
            (tags::EXPIRES_AT, "next tuesday"),
        ],
    );
    others.insert("rg-shop-pr-typo".into());
    Subscription {
        fake,
        expired,
        others,
        failing_deletes: BTreeMap::new(),
    }
}

impl Subscription {
    /// Throttling and server errors on a few DELETEs, each followed by the normal answer.
    fn script_failing_deletes(&mut self) {
        let names: Vec<String> = self.expired.keys().take(4).cloned().collect();
        let scripts = [
            vec![Scripted::status(429).header("retry-after", "1")],
            vec![Scripted::status(500)],
            vec![
                Scripted::status(429).header("retry-after", "1"),
                Scripted::status(500),
            ],
            vec![Scripted::status(503), Scripted::status(500)],
        ];
        for (name, script) in names.into_iter().zip(scripts) {
            self.failing_deletes.insert(name.clone(), script.len());
            self.fake
                .script("DELETE", &FakeArm::group_path(&name), script);
        }
    }

    /// A 500 on the second page of the listing: page 1 is answered as the fake answers it (fetched here first),
    /// then the request for page 2 fails once, and is retried at the same `nextLink`.
    async fn script_failing_second_page(&self) {
        let list_path = format!("/subscriptions/{SUBSCRIPTION}/resourcegroups");
        let mut url = url::Url::parse(&format!("{}{list_path}", self.fake.base)).unwrap();
        url.query_pairs_mut()
            .append_pair("api-version", "2021-04-01")
            .append_pair(
                "$filter",
                &format!(
                    "tagName eq '{}' and tagValue eq '{INSTANCE}'",
                    tags::MANAGED_BY
                ),
            );
        let first_page = reqwest::get(url).await.unwrap().text().await.unwrap();
        assert!(first_page.contains("nextLink"), "the listing has pages");
        self.fake.script(
            "GET",
            &list_path,
            vec![
                Scripted {
                    status: 200,
                    headers: vec![("content-type", "application/json".into())],
                    body: first_page,
                },
                Scripted::status(500),
            ],
        );
    }

    fn app(&self) -> TestApp {
        let arm = arm_client(&self.fake);
        spawn_app(CATALOG, &[], |ports| {
            ports.cloud = Arc::new(ArmCloud::new(arm));
        })
    }

    /// DELETE requests per group name.
    fn deletes(&self) -> BTreeMap<String, Vec<Instant>> {
        let mut by_group: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
        for r in self.fake.requests_to("DELETE", "/resourcegroups/") {
            let name = r.path.rsplit('/').next().unwrap().to_string();
            by_group.entry(name).or_default().push(r.at);
        }
        by_group
    }

    fn remaining(&self) -> BTreeSet<String> {
        self.fake
            .state
            .lock()
            .unwrap()
            .groups
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// REST contract (no ARM emulator exists): the fake answers as the documented API does.
#[tokio::test]
async fn a_sweep_over_thousands_of_groups_on_many_pages_deletes_exactly_the_expired_managed_ones() {
    // Arrange
    let started = Instant::now();
    let mut sub = subscription_of_3000_groups().await;
    sub.script_failing_deletes();
    sub.script_failing_second_page().await;
    let t = sub.app();

    // Act
    let report = t.app.sweep(Some(now()), false, 1000).await.unwrap();

    // Assert: every expired group of ours got DELETEs, nothing else did; one success each after its failures.
    let deletes = sub.deletes();
    let deleted: BTreeSet<&String> = deletes.keys().collect();
    let expected: BTreeSet<&String> = sub.expired.keys().collect();
    assert_eq!(deleted, expected);
    for (name, times) in &deletes {
        let failures = sub.failing_deletes.get(name).copied().unwrap_or(0);
        assert_eq!(times.len(), 1 + failures, "DELETEs of {name}");
    }
    let throttled = sub.failing_deletes.keys().next().unwrap();
    let times = &deletes[throttled];
    assert!(
        times[1] - times[0] >= std::time::Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    let writes: Vec<String> = sub
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .filter(|r| {
            !r.path
                .starts_with(&format!("/subscriptions/{SUBSCRIPTION}/resourcegroups/"))
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        writes.is_empty(),
        "only resource groups were written to: {writes:?}"
    );
    let remaining = sub.remaining();
    assert_eq!(remaining, sub.others, "every other group is still there");

    assert_eq!(
        (report.deleted, report.deferred, report.errors, report.kept),
        (500, 0, 0, 2001 - 500),
        "ours are 2001 of the 3001 (the server filters on the managed-by tag)"
    );
    let actions: BTreeMap<&str, &str> = report
        .items
        .iter()
        .map(|i| (i.resource_group.as_str(), i.action.as_str()))
        .collect();
    assert!(sub.expired.keys().all(|n| actions[n.as_str()] == "deleted"));
    assert_eq!(actions["rg-shop-pr-typo"], "kept");
    let typo = report
        .items
        .iter()
        .find(|i| i.resource_group == "rg-shop-pr-typo")
        .unwrap();
    assert!(typo.reason.contains("does not parse"), "{}", typo.reason);
    let pages = sub.fake.requests_to("GET", "/resourcegroups");
    let filter = format!(
        "tagName eq '{}' and tagValue eq '{INSTANCE}'",
        tags::MANAGED_BY
    );
    assert!(
        pages
            .iter()
            .all(|r| url::form_urlencoded::parse(r.query.as_bytes())
                .any(|(k, v)| k == "$filter" && v == filter)),
        "every page asks for this instance's groups only"
    );
    eprintln!(
        "swept 3001 groups ({} list requests, {} DELETEs) in {:?}",
        pages.len(),
        deletes.values().map(Vec::len).sum::<usize>(),
        started.elapsed()
    );
}

#[tokio::test]
async fn a_sweep_with_a_small_cap_deletes_exactly_cap_groups_oldest_expiry_first_and_defers_the_rest(
) {
    // Arrange
    let sub = subscription_of_3000_groups().await;
    let t = sub.app();
    let cap = 7;

    // Act
    let report = t.app.sweep(Some(now()), false, cap).await.unwrap();

    // Assert
    let mut by_age: Vec<(&DateTime<Utc>, &String)> =
        sub.expired.iter().map(|(n, at)| (at, n)).collect();
    by_age.sort();
    let oldest: BTreeSet<&String> = by_age.iter().take(cap).map(|(_, n)| *n).collect();
    let deletes = sub.deletes();
    assert_eq!(deletes.keys().collect::<BTreeSet<_>>(), oldest);
    assert!(deletes.values().all(|d| d.len() == 1));
    assert_eq!(
        (report.deleted, report.deferred, report.errors),
        (cap, 500 - cap, 0)
    );
    let deferred: BTreeSet<&String> = report
        .items
        .iter()
        .filter(|i| i.action == "deferred")
        .map(|i| &i.resource_group)
        .collect();
    let rest: BTreeSet<&String> = by_age.iter().skip(cap).map(|(_, n)| *n).collect();
    assert_eq!(deferred, rest);
    assert_eq!(sub.remaining().len(), 3001 - cap);
}

#[tokio::test]
async fn a_dry_run_sweep_sends_no_delete_at_all() {
    // Arrange
    let sub = subscription_of_3000_groups().await;
    let t = sub.app();

    // Act
    let report = t.app.sweep(Some(now()), true, 1000).await.unwrap();

    // Assert
    let writes: Vec<String> = sub
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    assert_eq!(report.deleted, 0);
    let would: BTreeSet<&String> = report
        .items
        .iter()
        .filter(|i| i.action == "would-delete")
        .map(|i| &i.resource_group)
        .collect();
    assert_eq!(would, sub.expired.keys().collect());
    assert_eq!(sub.remaining().len(), 3001);
}

/// REST contract (no ARM emulator exists): a group deletion that outlasts the sweep's poll (Cosmos DB or SQL take 5
/// to 15 minutes) is recorded as pending; on the next pass the group is no longer listed, and the sweep still purges
/// its soft-deleted vault and drops the environment's state, then forgets the record.
#[tokio::test]
async fn a_deletion_that_outlasts_the_sweep_is_finished_on_the_next_pass_vault_purge_and_state_included(
) {
    // Arrange: one expired group; its DELETE is accepted, but the operation's Retry-After (1 s) is beyond this
    // sweep's operation deadline (100 ms here, 8 minutes in production), so this pass cannot see it finish.
    let fake = spawn_fake_arm().await;
    fake.set(|s| s.lro_retry_after = 1);
    let expired = group_tags(
        Some(INSTANCE),
        "pr-1",
        "pull-request",
        Some(tags::format_time(now() - Duration::minutes(5))),
    );
    let t_: Vec<(&str, &str)> = expired.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fake.add_group("rg-shop-pr-1", &t_);
    let arm = arm_client(&fake).with_retry_policy(nightshift_azure::RetryPolicy {
        operation_deadline: std::time::Duration::from_millis(100),
        ..crate::quick_policy()
    });
    let t = spawn_app(CATALOG, &[], |ports| {
        ports.cloud = Arc::new(ArmCloud::new(arm));
    });
    let state = t.app.settings.terraform_dir().join("shop").join("pr-1");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("app.tfstate"), "{}").unwrap();

    // Act 1
    let first = t.app.sweep(Some(now()), false, 10).await.unwrap();

    // Assert 1: not finished, recorded, nothing forgotten yet.
    let item = &first.items[0];
    assert!(item.action.contains("still running"), "{}", item.action);
    assert_eq!(t.app.pending_deletions().await.unwrap().len(), 1);
    assert!(state.exists(), "the state is kept while the deletion runs");

    // Meanwhile Azure finishes: the group is gone (the fake unlisted it at DELETE) and its vault is soft-deleted.
    let vault_id = format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-shop-pr-1/providers/Microsoft.KeyVault/vaults/kv-shoppr1-abc123"
    );
    fake.set(|s| {
        s.deleted_vaults
            .push(("kv-shoppr1-abc123".into(), vault_id, "westeurope".into()))
    });

    // Act 2
    let second = t
        .app
        .sweep(Some(now() + Duration::minutes(10)), false, 10)
        .await
        .unwrap();

    // Assert 2: purged, state dropped, record gone.
    let finished: Vec<&str> = second.items.iter().map(|i| i.action.as_str()).collect();
    assert_eq!(finished, ["finished, purged kv-shoppr1-abc123"]);
    assert_eq!(
        fake.requests_to("POST", "/deletedVaults/kv-shoppr1-abc123/purge")
            .len(),
        1
    );
    assert!(fake.state.lock().unwrap().deleted_vaults.is_empty());
    assert!(!state.exists(), "the environment's state is dropped");
    assert!(t.app.pending_deletions().await.unwrap().is_empty());

    // A third pass has nothing left to do.
    let third = t
        .app
        .sweep(Some(now() + Duration::minutes(20)), false, 10)
        .await
        .unwrap();
    assert!(third.items.is_empty(), "{:?}", third.items);
}
