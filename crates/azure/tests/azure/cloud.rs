//! ArmCloud against the REST contract (loopback server following the documented ARM behaviour).

use crate::fake_arm::{spawn_fake_arm, FakeArm, Scripted, SUBSCRIPTION};
use crate::{arm_client, ARM_TOKEN};
use nightshift_azure::ArmCloud;
use nightshift_core::expiry::tags::MANAGED_BY;
use nightshift_core::ports::{Cloud, Deletion, PortError, TagUpdate};
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[tokio::test]
async fn contract_a_sweep_listing_over_thousands_of_groups_returns_exactly_the_managed_ones() {
    let fake = spawn_fake_arm().await;
    let mut expected = BTreeSet::new();
    for i in 0..6000 {
        let name = format!("rg-{i:05}");
        match i % 4 {
            0 | 1 => {
                fake.add_group(
                    &name,
                    &[(MANAGED_BY, "prod"), ("nightshift-product", "orthense")],
                );
                expected.insert(name);
            }
            2 => fake.add_group(&name, &[(MANAGED_BY, "staging")]),
            _ => fake.add_group(&name, &[("owner", "someone")]),
        }
    }
    let cloud = ArmCloud::new(arm_client(&fake));

    let groups = cloud.list_managed("prod").await.unwrap();

    let names: BTreeSet<String> = groups.iter().map(|g| g.name.clone()).collect();
    assert_eq!(groups.len(), 3000);
    assert_eq!(names, expected);
    assert!(groups
        .iter()
        .all(|g| g.tags.get("nightshift-product").map(String::as_str) == Some("orthense")));
    let pages = fake.requests_to("GET", "/resourcegroups");
    assert_eq!(pages.len(), 30, "3000 managed groups in pages of 100");
    assert!(pages[0].query.contains("api-version=2021-04-01"));
    assert!(pages
        .iter()
        .all(|r| r.headers["authorization"] == format!("Bearer {ARM_TOKEN}")));
}

#[tokio::test]
async fn contract_groups_tagged_in_another_case_are_listed_so_the_sweep_can_decide_and_report_them()
{
    // Issue 8, defect 9: tag names are case-insensitive on Azure; a group tagged `Nightshift-Managed-By` is ours.
    let fake = spawn_fake_arm().await;
    fake.add_group(
        "rg-upper",
        &[
            ("Nightshift-Managed-By", "prod"),
            ("Nightshift-Kind", "persistent"),
        ],
    );
    fake.add_group("rg-other", &[("NIGHTSHIFT-MANAGED-BY", "staging")]);
    let cloud = ArmCloud::new(arm_client(&fake));

    let groups = cloud.list_managed("prod").await.unwrap();

    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["rg-upper"]);
}

#[tokio::test]
async fn contract_a_listing_retries_a_throttled_page() {
    let fake = spawn_fake_arm().await;
    for i in 0..250 {
        fake.add_group(&format!("rg-{i}"), &[(MANAGED_BY, "prod")]);
    }
    let path = format!(
        "/subscriptions/{}/resourcegroups",
        crate::fake_arm::SUBSCRIPTION
    );
    fake.script(
        "GET",
        &path,
        vec![
            Scripted::status(429).header("retry-after", "0"),
            Scripted::status(503),
        ],
    );

    let groups = ArmCloud::new(arm_client(&fake))
        .list_managed("prod")
        .await
        .unwrap();

    assert_eq!(groups.len(), 250);
}

#[tokio::test]
async fn contract_a_delete_survives_429_with_retry_after_and_a_transient_500_then_follows_the_operation(
) {
    let fake = spawn_fake_arm().await;
    fake.add_group("rg-old", &[(MANAGED_BY, "prod")]);
    fake.set(|s| s.lro_retry_after = 1);
    fake.script(
        "DELETE",
        &FakeArm::group_path("rg-old"),
        vec![
            Scripted::status(429).header("retry-after", "1"),
            Scripted::status(500),
        ],
    );
    let cloud = ArmCloud::new(arm_client(&fake));
    let started = Instant::now();

    let outcome = cloud.delete_group("rg-old").await.unwrap();

    assert_eq!(outcome, Deletion::Deleted);
    let deletes = fake.requests_to("DELETE", "/resourcegroups/rg-old");
    assert_eq!(deletes.len(), 3, "429, 500, then 202");
    assert!(
        deletes[1].at - deletes[0].at >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    let polls = fake.requests_to("GET", "/operations/delete-rg-old");
    assert_eq!(polls.len(), 2, "202 once, then 200");
    assert!(polls[0].at - deletes[2].at >= Duration::from_secs(1));
    assert!(polls[1].at - polls[0].at >= Duration::from_secs(1));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn contract_deleting_a_group_that_is_gone_answers_already_gone() {
    let fake = spawn_fake_arm().await;

    let outcome = ArmCloud::new(arm_client(&fake))
        .delete_group("rg-never")
        .await
        .unwrap();

    assert_eq!(outcome, Deletion::AlreadyGone);
}

#[tokio::test]
async fn contract_a_delete_that_keeps_failing_gives_up_as_transient_after_bounded_attempts() {
    let fake = spawn_fake_arm().await;
    fake.add_group("rg-stuck", &[(MANAGED_BY, "prod")]);
    fake.script(
        "DELETE",
        &FakeArm::group_path("rg-stuck"),
        vec![Scripted::status(503); 10],
    );

    let err = ArmCloud::new(arm_client(&fake))
        .delete_group("rg-stuck")
        .await
        .unwrap_err();

    assert!(matches!(err, PortError::Transient(_)), "{err:?}");
    assert_eq!(fake.requests_to("DELETE", "rg-stuck").len(), 5);
}

#[tokio::test]
async fn contract_a_forbidden_delete_is_permanent_and_not_retried() {
    let fake = spawn_fake_arm().await;
    fake.add_group("rg-locked", &[(MANAGED_BY, "prod")]);
    fake.script(
        "DELETE",
        &FakeArm::group_path("rg-locked"),
        vec![Scripted::status(403)],
    );

    let err = ArmCloud::new(arm_client(&fake))
        .delete_group("rg-locked")
        .await
        .unwrap_err();

    assert!(matches!(err, PortError::Permanent(_)), "{err:?}");
    assert_eq!(fake.requests_to("DELETE", "rg-locked").len(), 1);
}

#[tokio::test]
async fn contract_after_a_group_is_deleted_its_soft_deleted_vaults_are_purged_and_no_others() {
    // Arrange: the documented deletedVaults list (paged) and purge endpoints.
    let fake = spawn_fake_arm().await;
    let vault = |name: &str, group: &str| {
        (
            name.to_string(),
            format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}"),
            "westeurope".to_string(),
        )
    };
    fake.set(|s| {
        s.page_size = 2;
        s.deleted_vaults = vec![
            vault("kv-a", "rg-orthense-pr-1"),
            vault("kv-other", "rg-someone-else"),
            vault("kv-b", "RG-Orthense-PR-1"),
            vault("kv-c", "rg-orthense-pr-12"),
        ];
    });
    let cloud = ArmCloud::new(arm_client(&fake));

    // Act
    let mut purged = cloud
        .purge_deleted_vaults("rg-orthense-pr-1")
        .await
        .unwrap();

    // Assert: both vaults of the group (ARM ids are case-insensitive), not the others, not a group with the same prefix.
    purged.sort();
    assert_eq!(purged, vec!["kv-a".to_string(), "kv-b".to_string()]);
    let left: Vec<String> = fake
        .state
        .lock()
        .unwrap()
        .deleted_vaults
        .iter()
        .map(|v| v.0.clone())
        .collect();
    assert_eq!(left, vec!["kv-other".to_string(), "kv-c".to_string()]);
    assert_eq!(fake.requests_to("POST", "/purge").len(), 2);
}

#[tokio::test]
async fn contract_extending_an_environment_merges_its_expiry_tag_through_the_tags_api_and_keeps_the_others(
) {
    let fake = spawn_fake_arm().await;
    fake.add_group(
        "rg-shop-pr-7",
        &[
            (MANAGED_BY, "prod"),
            ("nightshift-expires-at", "2026-11-28T01:00:00Z"),
        ],
    );
    let cloud = ArmCloud::new(arm_client(&fake));
    let update = BTreeMap::from([(
        "nightshift-expires-at".to_string(),
        "2026-11-30T01:00:00Z".to_string(),
    )]);

    let outcome = cloud.merge_tags("rg-shop-pr-7", &update).await.unwrap();

    assert_eq!(outcome, TagUpdate::Updated);
    let patches = fake.requests_to("PATCH", "/providers/Microsoft.Resources/tags/default");
    assert_eq!(patches.len(), 1);
    assert!(patches[0].path.contains("/resourcegroups/rg-shop-pr-7/"));
    assert!(patches[0].query.contains("api-version=2021-04-01"));
    let body: serde_json::Value = serde_json::from_str(&patches[0].body).unwrap();
    assert_eq!(body["operation"], "Merge");
    assert_eq!(
        body["properties"]["tags"]["nightshift-expires-at"],
        "2026-11-30T01:00:00Z"
    );
    let groups = cloud.list_managed("prod").await.unwrap();
    assert_eq!(
        groups[0].tags["nightshift-expires-at"],
        "2026-11-30T01:00:00Z"
    );
    assert_eq!(groups[0].tags[MANAGED_BY], "prod", "the other tags stay");
}

#[tokio::test]
async fn contract_a_tag_update_retries_throttling_and_reports_a_missing_group_as_gone() {
    let fake = spawn_fake_arm().await;
    fake.add_group("rg-a", &[(MANAGED_BY, "prod")]);
    let tags_path = format!(
        "{}/providers/Microsoft.Resources/tags/default",
        FakeArm::group_path("rg-a")
    );
    fake.script(
        "PATCH",
        &tags_path,
        vec![Scripted::status(429).header("retry-after", "0")],
    );
    let cloud = ArmCloud::new(arm_client(&fake));
    let update = BTreeMap::from([("k".to_string(), "v".to_string())]);

    assert_eq!(
        cloud.merge_tags("rg-a", &update).await.unwrap(),
        TagUpdate::Updated
    );
    assert_eq!(fake.requests_to("PATCH", "rg-a").len(), 2, "429, then 200");
    assert_eq!(
        cloud.merge_tags("rg-gone", &update).await.unwrap(),
        TagUpdate::GroupGone
    );
    fake.script("PATCH", &tags_path, vec![Scripted::status(403)]);
    assert!(matches!(
        cloud.merge_tags("rg-a", &update).await.unwrap_err(),
        PortError::Permanent(_)
    ));
}
