//! Each action's happy path and each rejection.

use crate::helpers::{fmt, succeeded, t0, World};
use chrono::Duration;
use nightshift_app::repo::ActionOutcome;

#[tokio::test]
async fn a_deploy_builds_the_environment_and_journals_who_asked_the_run_and_the_expiry() {
    let w = World::new();

    let run = w.build("m-1", "pr-7", "1.4.2", None).await;

    assert!(succeeded(&run));
    let action = w.app.repo.action("m-1").await.unwrap().unwrap();
    assert_eq!(action.outcome, ActionOutcome::Applied);
    assert_eq!(action.action.as_deref(), Some("deploy"));
    assert_eq!(action.requested_by.as_deref(), Some("alice"));
    assert_eq!(action.run_id.as_deref(), Some(run.id.as_str()));
    assert_eq!(action.expires_at, Some(t0() + Duration::days(7)));
    let env = w.env("pr-7").await;
    assert_eq!(env.status, "ready");
    assert_eq!(env.version.as_deref(), Some("1.4.2"));
    assert_eq!(env.expiry_reason.as_deref(), Some("lifetime"));
    assert_eq!(env.last_success_run.as_deref(), Some(run.id.as_str()));
    assert_eq!(env.urls["check"], "https://check.example.test");
}

#[tokio::test]
async fn a_re_release_keeps_the_environment_and_pushes_its_expiry_out_never_closer() {
    let w = World::new();
    w.build("m-1", "pr-7", "1.0.0", None).await;
    w.send("m-2", "pr-7", r#""action":"extend","by":"10d""#)
        .await;
    w.advance(Duration::days(1));

    // A day later, a re-release: its own lifetime (7d from now) is shorter than the extension.
    let again = w.build("m-3", "pr-7", "1.0.1", None).await;

    assert_eq!(
        again.expires_at,
        Some(t0() + Duration::days(17)),
        "not shortened"
    );
    assert_eq!(
        w.env("pr-7").await.expiry_reason.as_deref(),
        Some("extended")
    );
    assert_eq!(w.tag("pr-7"), Some(fmt(t0() + Duration::days(17))));
    w.advance(Duration::days(11));
    let later = w.build("m-4", "pr-7", "1.0.2", None).await;
    assert_eq!(
        later.expires_at,
        Some(w.now() - Duration::minutes(2) + Duration::days(7)),
        "pushed out"
    );
    assert_eq!(
        w.env("pr-7").await.expiry_reason.as_deref(),
        Some("lifetime")
    );
}

#[tokio::test]
async fn extending_moves_the_tag_of_every_group_and_the_record() {
    let w = World::new();
    let run = w.build("m-1", "pr-7", "1.0.0", None).await;
    let old = run.expires_at.unwrap();
    w.cloud
        .create_group("rg-shop-pr-7-data", &run.tags)
        .unwrap();

    let action = w
        .send("m-2", "pr-7", r#""action":"extend","by":"2d""#)
        .await;

    assert_eq!(action.outcome, ActionOutcome::Applied, "{action:?}");
    assert_eq!(action.expires_at, Some(old + Duration::days(2)));
    let env = w.env("pr-7").await;
    assert_eq!(env.expires_at, Some(old + Duration::days(2)));
    assert_eq!(env.expiry_reason.as_deref(), Some("extended"));
    for g in w.cloud.list_all().unwrap() {
        assert_eq!(
            g.tags["nightshift-expires-at"],
            fmt(old + Duration::days(2)),
            "{}",
            g.name
        );
        assert_eq!(g.tags["nightshift-run"], run.id.as_str(), "other tags stay");
    }
    let until = w
        .send(
            "m-3",
            "pr-7",
            r#""action":"extend","until":"2026-12-20T18:00:00Z""#,
        )
        .await;
    assert_eq!(
        until.expires_at.map(fmt).as_deref(),
        Some("2026-12-20T18:00:00Z")
    );
}

#[tokio::test]
async fn extending_past_max_lifetime_is_rejected_with_the_cap_and_changes_nothing() {
    let w = World::new();
    w.build("m-1", "pr-7", "1.0.0", None).await;
    let before = (w.env("pr-7").await, w.tag("pr-7"));

    let action = w
        .send("m-2", "pr-7", r#""action":"extend","by":"30d""#)
        .await;

    assert_eq!(action.outcome, ActionOutcome::Rejected);
    assert!(
        action
            .reason
            .as_deref()
            .unwrap()
            .contains("max_lifetime of 30d"),
        "{action:?}"
    );
    assert_eq!((w.env("pr-7").await, w.tag("pr-7")), before);
    assert_eq!(w.rejected_count().await, 1, "visible in status");
}

#[tokio::test]
async fn keeping_pins_the_environment_so_the_sweep_at_its_old_expiry_keeps_it() {
    let w = World::new();
    let run = w.build("m-1", "pr-7", "1.0.0", None).await;
    let old = run.expires_at.unwrap();
    w.advance(Duration::days(6));

    let action = w
        .send(
            "m-2",
            "pr-7",
            r#""action":"keep","for":"3d","reason":"debugging the flaky smoke check""#,
        )
        .await;

    assert_eq!(action.outcome, ActionOutcome::Applied, "{action:?}");
    let env = w.env("pr-7").await;
    assert_eq!(env.kept_until, Some(w.now() + Duration::days(3)));
    assert_eq!(env.expires_at, env.kept_until);
    assert_eq!(env.expiry_reason.as_deref(), Some("kept"));
    assert!(env
        .keep_reason
        .as_deref()
        .unwrap()
        .contains("flaky smoke check"));
    let report = w
        .app
        .sweep(Some(old + Duration::hours(1)), false, 10)
        .await
        .unwrap();
    assert_eq!((report.deleted, report.kept), (0, 1), "{report:#?}");
    assert!(w.tag("pr-7").is_some());
    let report = w
        .app
        .sweep(
            Some(w.now() + Duration::days(3) + Duration::hours(1)),
            false,
            10,
        )
        .await
        .unwrap();
    assert_eq!(report.deleted, 1, "kept until then, not forever");
}

#[tokio::test]
async fn closing_destroys_groups_and_terraform_state_and_records_closed_by_who_asked() {
    let w = World::new();
    w.build("m-1", "pr-7", "1.0.0", None).await;
    assert!(w.tfstate_dir("pr-7").exists());

    let action = w.send("m-2", "pr-7", r#""action":"close""#).await;

    assert_eq!(action.outcome, ActionOutcome::Applied, "{action:?}");
    assert!(
        w.cloud.list_all().unwrap().is_empty(),
        "resource groups (and their data) gone"
    );
    assert!(!w.tfstate_dir("pr-7").exists(), "Terraform state gone");
    let env = w.env("pr-7").await;
    assert_eq!(env.status, "destroyed");
    assert_eq!(env.destroyed_reason.as_deref(), Some("closed by alice"));
    assert_eq!(env.destroyed_at, Some(w.now()));
}

#[tokio::test]
async fn destroying_records_destroyed_by_and_a_later_release_builds_a_new_life() {
    let w = World::new();
    w.build("m-1", "pr-7", "1.0.0", None).await;

    w.send("m-2", "pr-7", r#""action":"destroy""#).await;

    assert_eq!(
        w.env("pr-7").await.destroyed_reason.as_deref(),
        Some("destroyed by alice")
    );
    let again = w.build("m-3", "pr-7", "1.0.1", None).await;
    assert!(succeeded(&again));
    let env = w.env("pr-7").await;
    assert_eq!((env.status.as_str(), env.destroyed_reason), ("ready", None));
    assert_eq!(env.expires_at, again.expires_at);
}

#[tokio::test]
async fn close_destroy_extend_and_keep_on_a_persistent_environment_are_rejected_and_change_nothing()
{
    let w = World::new();
    w.build("m-1", "main", "1.0.0", None).await;
    let before = w.env("main").await;

    for (i, fields) in [
        r#""action":"close""#,
        r#""action":"destroy""#,
        r#""action":"extend","by":"1d""#,
        r#""action":"keep","for":"1d","reason":"x""#,
    ]
    .into_iter()
    .enumerate()
    {
        let action = w.send(&format!("p-{i}"), "main", fields).await;
        assert_eq!(action.outcome, ActionOutcome::Rejected, "{fields}");
        assert!(
            action
                .reason
                .as_deref()
                .unwrap()
                .contains("main is a persistent environment"),
            "{action:?}"
        );
    }
    assert_eq!(w.env("main").await, before);
    assert_eq!(w.cloud.list_all().unwrap().len(), 1);
    assert_eq!(w.rejected_count().await, 4);
}

#[tokio::test]
async fn an_unknown_environment_is_rejected_naming_the_accepted_patterns_and_the_bare_pr_entry_saying_so(
) {
    let w = World::new();

    let unknown = w.send("m-1", "staging", r#""action":"close""#).await;
    let bare = w.send("m-2", "pr", r#""version":"1.0.0""#).await;

    assert_eq!(unknown.outcome, ActionOutcome::Rejected);
    assert!(
        unknown
            .reason
            .as_deref()
            .unwrap()
            .contains("accepted names: pr-<suffix> (e.g. pr-42), main"),
        "{unknown:?}"
    );
    assert_eq!(unknown.environment.as_deref(), Some("staging"));
    assert!(
        bare.reason
            .as_deref()
            .unwrap()
            .contains("name the pull request's environment pr-<suffix>"),
        "{bare:?}"
    );
    assert!(w.runs().await.is_empty());
}

#[tokio::test]
async fn extending_an_environment_that_was_never_built_is_rejected() {
    let w = World::new();

    let action = w
        .send("m-1", "pr-9", r#""action":"extend","by":"1d""#)
        .await;

    assert_eq!(action.outcome, ActionOutcome::Rejected);
    assert!(
        action
            .reason
            .as_deref()
            .unwrap()
            .contains("release it first"),
        "{action:?}"
    );
}

#[tokio::test]
async fn a_message_that_is_not_json_is_journaled_rejected_with_what_could_be_read() {
    let w = World::new();

    let action = w.send_raw("m-1", "{not json").await;
    let partial = w
        .send_raw("m-2", r#"{"schema":"nightshift.release/v1","action":"close","product":"shop","environment":"pr-7"}"#)
        .await;

    assert_eq!(action.outcome, ActionOutcome::Rejected);
    assert_eq!((action.action, action.product), (None, None));
    assert!(action.reason.as_deref().unwrap().contains("not JSON"));
    assert_eq!(partial.action.as_deref(), Some("close"));
    assert_eq!(partial.environment.as_deref(), Some("pr-7"));
    assert!(
        partial.reason.as_deref().unwrap().contains("requested_by"),
        "{partial:?}"
    );
}

#[tokio::test]
async fn closing_an_environment_that_is_already_gone_applies_and_keeps_the_first_reason() {
    let w = World::new();
    w.build("m-1", "pr-7", "1.0.0", None).await;
    w.send("m-2", "pr-7", r#""action":"destroy""#).await;

    let action = w.send("m-3", "pr-7", r#""action":"close""#).await;
    let never = w.send("m-4", "pr-8", r#""action":"close""#).await;

    assert_eq!(action.outcome, ActionOutcome::Applied);
    assert!(action
        .reason
        .as_deref()
        .unwrap()
        .contains("already destroyed"));
    assert_eq!(
        w.env("pr-7").await.destroyed_reason.as_deref(),
        Some("destroyed by alice")
    );
    assert_eq!(never.outcome, ActionOutcome::Applied);
    assert!(never.reason.as_deref().unwrap().contains("never built"));
}
