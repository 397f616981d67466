//! Every message may arrive twice, and the handler may die at any line: a redelivery changes nothing more, and a
//! redelivery after a crash finishes the job.

use crate::helpers::World;
use chrono::Duration;
use nightshift_app::repo::ActionOutcome;
use nightshift_core::run::RunStatus;

#[tokio::test]
async fn each_action_delivered_twice_changes_nothing_more() {
    let w = World::new();
    w.build("m-1", "pr-7", "1.0.0", None).await;
    let deploy_again = w.send("m-1", "pr-7", r#""version":"1.0.0""#).await;
    assert_eq!(w.runs().await.len(), 1, "one run for one deploy message");
    assert!(deploy_again.run_id.is_some());

    let first = w
        .send("m-2", "pr-7", r#""action":"extend","by":"2d""#)
        .await;
    let env = w.env("pr-7").await;
    w.advance(Duration::minutes(5));
    let second = w
        .send("m-2", "pr-7", r#""action":"extend","by":"2d""#)
        .await;
    assert_eq!(first, second, "the journal is written once");
    assert_eq!(w.env("pr-7").await, env, "extended once");

    let kept = w
        .send("m-3", "pr-7", r#""action":"keep","for":"20d","reason":"x""#)
        .await;
    let env = w.env("pr-7").await;
    w.advance(Duration::hours(1));
    assert_eq!(
        w.send("m-3", "pr-7", r#""action":"keep","for":"20d","reason":"x""#)
            .await,
        kept
    );
    assert_eq!(w.env("pr-7").await, env, "kept once");

    let rejected = w
        .send("m-4", "pr-7", r#""action":"extend","by":"40d""#)
        .await;
    assert_eq!(
        w.send("m-4", "pr-7", r#""action":"extend","by":"40d""#)
            .await,
        rejected
    );
    assert_eq!(w.rejected_count().await, 1);

    let closed = w.send("m-5", "pr-7", r#""action":"close""#).await;
    let env = w.env("pr-7").await;
    assert_eq!(w.send("m-5", "pr-7", r#""action":"close""#).await, closed);
    assert_eq!(w.env("pr-7").await, env);
}

#[tokio::test]
async fn an_extend_redelivered_after_the_record_moved_but_before_the_journal_moves_the_tags_and_nothing_twice(
) {
    let w = World::new();
    let run = w.build("m-1", "pr-7", "1.0.0", None).await;
    let target = run.expires_at.unwrap() + Duration::days(2);
    // The first delivery died after writing the record: the tags still say the old expiry, no journal entry.
    w.app
        .repo
        .update_environment("shop", "pr-7", |r| {
            r.map(|mut r| {
                r.expires_at = Some(target);
                r.expiry_set_by = Some("m-2".into());
                r
            })
        })
        .await
        .unwrap();

    let action = w
        .send("m-2", "pr-7", r#""action":"extend","by":"2d""#)
        .await;

    assert_eq!(
        action.expires_at,
        Some(target),
        "not extended a second time"
    );
    assert_eq!(w.tag("pr-7"), Some(crate::helpers::fmt(target)));
}

#[tokio::test]
async fn a_close_redelivered_after_a_crash_mid_teardown_finishes_the_job() {
    let w = World::new();
    w.build("m-1", "pr-7", "1.0.0", None).await;
    // The first delivery died after marking the environment destroying and deleting one of its two groups.
    let run = w.runs().await.remove(0);
    w.cloud
        .create_group("rg-shop-pr-7-data", &run.tags)
        .unwrap();
    w.app
        .repo
        .update_environment("shop", "pr-7", |r| {
            r.map(|mut r| {
                r.status = "destroying".into();
                r
            })
        })
        .await
        .unwrap();
    std::fs::remove_dir_all(w.state.join("cloud/resource-groups/rg-shop-pr-7")).unwrap();

    let action = w.send("m-2", "pr-7", r#""action":"close""#).await;

    assert_eq!(action.outcome, ActionOutcome::Applied);
    assert!(w.cloud.list_all().unwrap().is_empty());
    assert!(!w.tfstate_dir("pr-7").exists());
    assert_eq!(w.env("pr-7").await.status, "destroyed");
}

#[tokio::test]
async fn a_close_during_a_build_leaves_the_build_alone_and_tears_down_when_it_ends() {
    let w = World::new();
    let deploy = w.send("m-1", "pr-7", r#""version":"1.0.0""#).await;
    let id = nightshift_core::RunId::parse(deploy.run_id.as_deref().unwrap()).unwrap();

    let close = w.send("m-2", "pr-7", r#""action":"close""#).await;

    assert_eq!(close.outcome, ActionOutcome::Applied);
    assert!(
        close
            .reason
            .as_deref()
            .unwrap()
            .contains("as soon as that run finishes"),
        "{close:?}"
    );
    assert_eq!(
        w.env("pr-7").await.status,
        "building",
        "the build is not disturbed"
    );
    let run = w.finish(&id, None).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    let env = w.env("pr-7").await;
    assert_eq!(env.status, "destroyed");
    assert_eq!(env.destroyed_reason.as_deref(), Some("closed by alice"));
    assert!(env.pending_teardown.is_none());
    assert!(w.cloud.list_all().unwrap().is_empty());
}

#[tokio::test]
async fn an_extend_during_a_build_survives_the_builds_own_tags() {
    let w = World::new();
    let deploy = w.send("m-1", "pr-7", r#""version":"1.0.0""#).await;
    let id = nightshift_core::RunId::parse(deploy.run_id.as_deref().unwrap()).unwrap();

    let extend = w
        .send("m-2", "pr-7", r#""action":"extend","by":"2d""#)
        .await;
    // The build's Terraform tags its groups with the run's own (older) expiry.
    let run = w.finish(&id, None).await;

    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(w.env("pr-7").await.expires_at, extend.expires_at);
    assert_eq!(w.tag("pr-7"), extend.expires_at.map(crate::helpers::fmt));
}
