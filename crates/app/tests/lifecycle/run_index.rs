//! The run indexes (issue 9, item 2): status pages through them, they heal when a crash cut their last update
//! short, an older state directory gets them built once, and retention removes old run documents without
//! touching an environment's last run, a running one, or the metrics.

use crate::helpers::World;
use chrono::Duration;
use nightshift_app::index::{digest_key, environment_index_key, BUILT_KEY};
use nightshift_app::usecases::status::StatusQuery;
use nightshift_core::metrics::Filter;
use nightshift_core::ports::Precondition;
use nightshift_core::run::{Run, RunStatus};
use nightshift_core::run_digest::RunDigest;
use nightshift_core::RunId;
use std::collections::BTreeMap;

/// Builds `n` runs over three environments, a minute apart; returns their ids, oldest first.
async fn history(w: &World, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let env = format!("pr-{}", i % 3 + 1);
        let run = w
            .build(&format!("m-{i}"), &env, &format!("1.0.{i}"), None)
            .await;
        ids.push(run.id.to_string());
        w.advance(Duration::minutes(1));
    }
    ids
}

async fn page(w: &World, limit: usize, cursor: Option<String>) -> (Vec<String>, Option<String>) {
    let report = w
        .app
        .status_page(&StatusQuery { limit, cursor })
        .await
        .unwrap();
    (
        report.runs.iter().map(|r| r.id.clone()).collect(),
        report.next_cursor,
    )
}

#[tokio::test]
async fn paging_returns_every_run_exactly_once_across_pages_within_the_limit() {
    let w = World::new();
    let ids = history(&w, 8).await;

    let mut seen: Vec<String> = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let (runs, next) = page(&w, 3, cursor).await;
        assert!(runs.len() <= 3, "a page holds at most its limit: {runs:?}");
        // Within a page the newest is last, and the page is newer than every page after it.
        let mut sorted = runs.clone();
        sorted.sort_by_key(|id| ids.iter().position(|i| i == id));
        assert_eq!(runs, sorted);
        if let Some(oldest_here) = runs.first() {
            assert!(seen.iter().all(
                |s| ids.iter().position(|i| i == s) > ids.iter().position(|i| i == oldest_here)
            ));
        }
        seen.extend(runs);
        pages += 1;
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3, "8 runs in pages of 3");
    let mut all = seen.clone();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), seen.len(), "no run twice: {seen:?}");
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(all, expected, "every run once");

    // The default page is the newest runs, the newest last, as status always showed them.
    let report = w.app.status().await.unwrap();
    assert_eq!(report.runs.last().unwrap().id, *ids.last().unwrap());
    assert!(report.next_cursor.is_none(), "8 runs fit the default page");
}

#[tokio::test]
async fn a_cursor_status_never_gave_is_refused_saying_how_to_start_again() {
    let w = World::new();
    history(&w, 1).await;
    for bad in [
        "nonsense",
        "2026-13-01/x.json",
        "2026-12-01/../../runs/x.json",
    ] {
        let e = w
            .app
            .status_page(&StatusQuery {
                limit: 5,
                cursor: Some(bad.into()),
            })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("without --cursor"), "{bad}: {e}");
        assert!(!e.is_retryable());
    }
}

#[tokio::test]
async fn an_index_missing_its_last_update_heals_when_the_run_is_read() {
    let w = World::new();
    let rec = w.send("m-1", "pr-1", r#""version":"1.0.0""#).await;
    let id = RunId::parse(rec.run_id.as_deref().unwrap()).unwrap();
    let running = w.app.repo.run(&id).await.unwrap().unwrap();
    let key = digest_key(&id, running.created_at);
    let (stale, _) = w
        .app
        .repo
        .get_json::<RunDigest>(&key)
        .await
        .unwrap()
        .expect("the run is indexed from its creation");
    assert_eq!(stale.status, RunStatus::Running);
    let env_key = environment_index_key("shop", "pr-1");
    let stale_env: serde_json::Value = w.app.repo.get_json(&env_key).await.unwrap().unwrap().0;
    let done = w.finish(&id, None).await;
    assert_eq!(done.status, RunStatus::Succeeded);

    // The process died between the run's last write and the index's: both indexes still say running.
    w.app
        .repo
        .put_json(&key, &stale, Precondition::None)
        .await
        .unwrap();
    w.app
        .repo
        .put_json(&env_key, &stale_env, Precondition::None)
        .await
        .unwrap();

    // The environment's view reads its unfinished run and heals both.
    let recent = w.app.environment_runs("shop", "pr-1").await.unwrap();
    assert_eq!(recent[0].status, RunStatus::Succeeded);
    let healed: RunDigest = w.app.repo.get_json(&key).await.unwrap().unwrap().0;
    assert_eq!(healed.status, RunStatus::Succeeded);

    // So does a status page showing it.
    w.app
        .repo
        .put_json(&key, &stale, Precondition::None)
        .await
        .unwrap();
    let report = w.app.status().await.unwrap();
    assert_eq!(report.runs[0].status, RunStatus::Succeeded);
    let healed: RunDigest = w.app.repo.get_json(&key).await.unwrap().unwrap().0;
    assert_eq!(healed.status, RunStatus::Succeeded);

    // A late write of the earlier state (a redelivery) takes nothing back.
    w.app.repo.index_run(&running).await.unwrap();
    let kept: RunDigest = w.app.repo.get_json(&key).await.unwrap().unwrap().0;
    assert_eq!(kept.status, RunStatus::Succeeded);
}

#[tokio::test]
async fn a_run_finished_whose_hand_over_was_lost_is_indexed_by_the_watchdog() {
    let w = World::new();
    let rec = w.send("m-1", "pr-1", r#""version":"1.0.0""#).await;
    let id = RunId::parse(rec.run_id.as_deref().unwrap()).unwrap();
    // The run's document says succeeded; the process died before anything else (index, record, active marker).
    let mut done = w.app.repo.run(&id).await.unwrap().unwrap();
    done.status = RunStatus::Succeeded;
    done.finished_at = Some(w.now());
    done.journal.push(nightshift_core::run::JournalEntry {
        at: w.now(),
        step: None,
        attempt: None,
        from: "running".into(),
        to: "succeeded".into(),
        reason: None,
    });
    w.app.repo.put_run(&done).await.unwrap();

    w.app.watchdog().await.unwrap();

    let index = w
        .app
        .repo
        .environment_index("shop", "pr-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(index.current.as_deref(), Some(id.as_str()));
    assert_eq!(index.recent[0].status, RunStatus::Succeeded);
}

#[tokio::test]
async fn a_state_directory_with_runs_but_no_index_builds_it_once() {
    let w = World::new();
    let ids = history(&w, 4).await;
    // A state directory from before the indexes: runs and no index at all.
    let store = w.app.repo.store().clone();
    for key in store.list("index/").await.unwrap() {
        store.delete(&key).await.unwrap();
    }

    let report = w.app.status().await.unwrap();
    assert_eq!(
        report.runs.len(),
        4,
        "every run listed from the index built now"
    );
    let built: serde_json::Value = w.app.repo.get_json(BUILT_KEY).await.unwrap().unwrap().0;
    assert_eq!(built["runs"], 4);
    assert!(
        w.app.ensure_index().await.unwrap().is_none(),
        "built once: the next reader builds nothing"
    );
    let index = w
        .app
        .repo
        .environment_index("shop", "pr-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(index.current.as_deref(), Some(ids[3].as_str()));
}

/// Which of these runs still have their documents.
async fn with_documents(w: &World, ids: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for id in ids {
        if w.app
            .repo
            .run(&RunId::parse(id).unwrap())
            .await
            .unwrap()
            .is_some()
        {
            out.push(id.clone());
        }
    }
    out
}

#[tokio::test]
async fn retention_never_removes_an_environments_last_run_nor_a_running_one() {
    let w = World::new();
    // pr-1: three builds (the last one fails), pr-2: one build; then a fourth pr-1 build starts and runs.
    let a = w.build("m-1", "pr-1", "1.0.0", None).await;
    let b = w.build("m-2", "pr-1", "1.0.1", None).await;
    let c = w.build("m-3", "pr-1", "1.0.2", Some("check")).await;
    let only = w.build("m-4", "pr-2", "2.0.0", None).await;
    let rec = w.send("m-5", "pr-1", r#""version":"1.0.3""#).await;
    let running = rec.run_id.clone().unwrap();
    let ids: Vec<String> = [&a, &b, &c, &only]
        .iter()
        .map(|r: &&Run| r.id.to_string())
        .chain([running.clone()])
        .collect();

    // Inside the retention: nothing goes.
    let report = w.app.retention(w.now()).await.unwrap();
    assert!(report.compacted.is_empty());

    // 91 days on, through the sweeper's pass.
    w.advance(Duration::days(91));
    w.app.sweep(None, false, 20).await.unwrap();

    let left = with_documents(&w, &ids).await;
    assert!(
        !left.contains(&a.id.to_string()),
        "an old run goes: {left:?}"
    );
    assert!(
        left.contains(&b.id.to_string()),
        "pr-1's last successful run stays (a new build of pr-1 reads it): {left:?}"
    );
    assert!(
        !left.contains(&c.id.to_string()),
        "an old failed run goes: {left:?}"
    );
    assert!(left.contains(&running), "a running run stays: {left:?}");
    assert!(
        left.contains(&only.id.to_string()),
        "pr-2's last run stays: {left:?}"
    );
    let results = w
        .app
        .repo
        .store()
        .list(&format!("results/{}/", a.id))
        .await
        .unwrap();
    assert!(
        results.is_empty(),
        "its step results go with it: {results:?}"
    );

    // Status still lists the removed run, from its digest.
    let report = w.app.status().await.unwrap();
    let gone = report
        .runs
        .iter()
        .find(|r| r.id == a.id.as_str())
        .expect("a compacted run is still listed");
    assert!(gone.compacted_at.is_some() && gone.steps.is_empty());
    assert_eq!(gone.status, RunStatus::Succeeded);

    // A second pass finds nothing more to do.
    let again = w.app.retention(w.now()).await.unwrap();
    assert!(again.compacted.is_empty(), "{again:?}");
    assert_eq!(again.unfinished, 1, "the running run is left");
}

#[tokio::test]
async fn metrics_are_the_same_before_and_after_retention_compacts_the_runs() {
    let w = World::new();
    w.build("m-1", "pr-1", "1.0.0", None).await;
    w.advance(Duration::hours(1));
    w.build("m-2", "pr-1", "1.0.1", Some("check")).await;
    w.advance(Duration::hours(1));
    w.build("m-3", "pr-1", "1.0.2", None).await;
    w.build("m-4", "pr-2", "2.0.0", Some("app")).await;
    w.build("m-5", "pr-3", "3.0.0", None).await;
    w.advance(Duration::days(100));
    let all = Filter::default();
    let before = w.app.metrics(&all).await.unwrap();
    assert!(before.deployments >= 5, "{before:?}");

    let report = w.app.retention(w.now()).await.unwrap();
    assert!(
        report.compacted.len() >= 2,
        "runs were compacted: {report:?}"
    );
    let after = w.app.metrics(&all).await.unwrap();

    let strip = |m: &nightshift_core::metrics::MetricsReport| {
        let mut v = serde_json::to_value(m).unwrap();
        v.as_object_mut().unwrap().remove("generated_at");
        v
    };
    assert_eq!(strip(&before), strip(&after));
    assert_eq!(after.recovery.recovered, 1, "{after:?}");
    assert!(after.checks.failed >= 1, "{after:?}");
}

#[tokio::test]
async fn an_environment_index_keeps_its_current_run_and_a_bounded_list_of_recent_ones() {
    let w = World::new();
    let mut last = String::new();
    for i in 0..(nightshift_app::index::RECENT_PER_ENVIRONMENT + 3) {
        last = w
            .build(&format!("m-{i}"), "pr-1", &format!("1.0.{i}"), None)
            .await
            .id
            .to_string();
        w.advance(Duration::minutes(1));
    }
    let index = w
        .app
        .repo
        .environment_index("shop", "pr-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(index.current.as_deref(), Some(last.as_str()));
    assert_eq!(
        index.recent.len(),
        nightshift_app::index::RECENT_PER_ENVIRONMENT
    );
    let versions: BTreeMap<usize, String> = index
        .recent
        .iter()
        .enumerate()
        .map(|(i, d)| (i, d.trigger.version().to_string()))
        .collect();
    assert_eq!(versions[&0], "1.0.22", "newest first: {versions:?}");
}

#[tokio::test]
async fn reading_status_writes_nothing_when_the_indexes_are_up_to_date() {
    let w = World::new();
    history(&w, 3).await;
    w.app.status().await.unwrap();
    let store = w.app.repo.store().clone();
    let versions = || async {
        let mut out = BTreeMap::new();
        for k in store.list("index/").await.unwrap() {
            out.insert(k.clone(), store.get(&k).await.unwrap().unwrap().version);
        }
        out
    };
    let before = versions().await;
    w.app.status().await.unwrap();
    w.app.environment_runs("shop", "pr-1").await.unwrap();
    assert_eq!(versions().await, before);
}
