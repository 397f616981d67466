//! The global cap on jobs running at once (`NIGHTSHIFT_MAX_JOBS`, issue 9 item 3), with the local adapters: slot
//! tokens taken where jobs start, given back when the step's result arrives, reclaimed by the watchdog from a holder
//! that died, and waiting attempts woken by a message.

use nightshift_app::slots::{Holder, Pass};
use nightshift_app::{App, Settings};
use nightshift_core::messages::{StepEventMessage, StepMessage, StepOutcome, STEP_EVENT_SCHEMA};
use nightshift_core::ports::{PortError, Precondition, Store, Versioned};
use nightshift_core::run::{Run, RunStatus, StepStatus};
use nightshift_core::{RunId, StepName};
use std::collections::BTreeMap;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  api: { smoke: { command: ["true"] } }
  web: { smoke: { command: ["true"] } }
environments:
  pr: { kind: pull-request }
"#;

fn app(dir: &std::path::Path, max_jobs: &str) -> App {
    app_with(dir, max_jobs, CATALOG)
}

fn app_with(dir: &std::path::Path, max_jobs: &str, catalog: &str) -> App {
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    std::fs::write(dir.join("catalog/shop.yaml"), catalog).unwrap();
    let env: BTreeMap<&str, String> = [
        (
            "NIGHTSHIFT_STATE_DIR",
            dir.join("state").display().to_string(),
        ),
        (
            "NIGHTSHIFT_CATALOG",
            dir.join("catalog").display().to_string(),
        ),
        ("NIGHTSHIFT_REPO_ROOT", dir.display().to_string()),
        // Jobs that exit at once and report nothing: results are fed by the tests.
        ("NIGHTSHIFT_RUNNER", "true".to_string()),
        ("NIGHTSHIFT_MAX_JOBS", max_jobs.to_string()),
    ]
    .into();
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    App::new(nightshift_app::wiring::local(&settings), settings)
}

fn release(env: &str) -> String {
    format!(
        r#"{{"schema":"nightshift.release/v1","product":"shop","environment":"{env}","version":"1.0.0","requested_by":"ci"}}"#
    )
}

/// Releases `env` and delivers its dispatch messages: the dispatch outputs (woken attempts), and the run.
async fn release_and_dispatch(app: &App, env: &str) -> (Vec<String>, RunId) {
    let out = app
        .release(&release(env), &format!("m-{env}"))
        .await
        .unwrap();
    let mut woken = Vec::new();
    let mut run = None;
    for body in out.steps {
        let m: StepMessage = serde_json::from_str(&body).unwrap();
        run = Some(m.run_id.clone());
        woken.extend(app.dispatch(&body, &m.message_id()).await.unwrap().steps);
    }
    (woken, run.expect("the release dispatched steps"))
}

async fn tokens(app: &App) -> Vec<String> {
    app.repo.store().list("job-slots/tokens/").await.unwrap()
}

async fn waiters(app: &App) -> Vec<String> {
    app.repo
        .slot_waiters()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, h)| format!("{}/{}", h.run, h.step))
        .collect()
}

fn result(run: &RunId, step: &str, attempt: u32) -> String {
    let now = chrono::Utc::now();
    serde_json::to_string(&StepEventMessage {
        schema: STEP_EVENT_SCHEMA.into(),
        run_id: run.clone(),
        step: StepName::parse(step).unwrap(),
        attempt,
        outcome: StepOutcome::Succeeded,
        exit_code: Some(0),
        reason: None,
        permanent: false,
        outputs: BTreeMap::new(),
        started_at: now,
        finished_at: now,
        log: None,
    })
    .unwrap()
}

async fn run(app: &App, id: &RunId) -> Run {
    app.repo.run(id).await.unwrap().unwrap()
}

fn status_of(run: &Run, step: &str) -> StepStatus {
    run.steps[&StepName::parse(step).unwrap()].status
}

#[tokio::test]
async fn the_global_cap_holds_across_two_runs_and_the_waiting_steps_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "2");

    let (_, first) = release_and_dispatch(&app, "pr-1").await;
    let (_, second) = release_and_dispatch(&app, "pr-2").await;

    assert_eq!(tokens(&app).await.len(), 2, "two jobs at most");
    let first = run(&app, &first).await;
    assert_eq!(status_of(&first, "api"), StepStatus::Running);
    assert_eq!(status_of(&first, "web"), StepStatus::Running);
    let second_run = run(&app, &second).await;
    assert_eq!(status_of(&second_run, "api"), StepStatus::Queued);
    assert_eq!(
        waiters(&app).await,
        vec![format!("{second}/api"), format!("{second}/web")]
    );
    let status = app.status().await.unwrap();
    let summary = status
        .runs
        .iter()
        .find(|r| r.id == second.as_str())
        .unwrap();
    assert!(summary
        .steps
        .iter()
        .all(|s| s.reason.as_deref() == Some("waiting for a job slot: NIGHTSHIFT_MAX_JOBS 2")));
}

#[tokio::test]
async fn a_slot_freed_by_a_finished_step_starts_the_oldest_waiting_step() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "2");
    let (_, first) = release_and_dispatch(&app, "pr-1").await;
    let (_, second) = release_and_dispatch(&app, "pr-2").await;

    // The first run's api step reports: its slot goes to the second run's first waiting step, by a message.
    let out = app
        .step_event(&result(&first, "api", 1), "e-1")
        .await
        .unwrap();

    assert_eq!(out.steps.len(), 1, "{:?}", out.logs);
    let woken: StepMessage = serde_json::from_str(&out.steps[0]).unwrap();
    assert_eq!((&woken.run_id, woken.step.as_str()), (&second, "api"));
    assert_eq!(waiters(&app).await, vec![format!("{second}/web")]);
    app.dispatch(&out.steps[0], "w-1").await.unwrap();
    assert_eq!(
        status_of(&run(&app, &second).await, "api"),
        StepStatus::Running
    );
    assert_eq!(tokens(&app).await.len(), 2);
    // A repeat of the result frees nothing more, and a repeat of the wake takes no second slot.
    let again = app
        .step_event(&result(&first, "api", 1), "e-1")
        .await
        .unwrap();
    assert!(again.steps.is_empty(), "{:?}", again.steps);
    app.dispatch(&out.steps[0], "w-1").await.unwrap();
    assert_eq!(tokens(&app).await.len(), 2);
    assert_eq!(waiters(&app).await, vec![format!("{second}/web")]);
}

#[tokio::test]
async fn a_dead_holders_slot_is_reclaimed_by_the_watchdog_and_given_to_a_waiter() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "1");
    let (_, first) = release_and_dispatch(&app, "pr-1").await;
    assert_eq!(tokens(&app).await.len(), 1);
    assert_eq!(waiters(&app).await.len(), 1, "web waits behind api");

    // The holder's attempt ended, but the process died before giving its slot back: its run says succeeded.
    let mut done = run(&app, &first).await;
    let api = done
        .steps
        .get_mut(&StepName::parse("api").unwrap())
        .unwrap();
    api.status = StepStatus::Succeeded;
    app.repo.put_run(&done).await.unwrap();

    let out = app.watchdog().await.unwrap();

    assert!(
        out.logs.iter().any(|l| l.contains("job slot 0 reclaimed")),
        "{:?}",
        out.logs
    );
    let woken: Vec<StepMessage> = out
        .steps
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(woken.len(), 1, "{:?}", out.logs);
    assert_eq!(woken[0].step.as_str(), "web");
    assert!(waiters(&app).await.is_empty());
    assert_eq!(tokens(&app).await.len(), 1, "the waiter holds it now");
}

#[tokio::test]
async fn the_watchdog_does_not_re_dispatch_a_step_that_waits_for_a_slot() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "1");
    let (_, first) = release_and_dispatch(&app, "pr-1").await;
    // Long after: the waiting step has no job, which would look like a lost dispatch.
    let mut old = run(&app, &first).await;
    for s in old.steps.values_mut() {
        s.queued_at = s.queued_at.map(|t| t - chrono::Duration::hours(1));
    }
    app.repo.put_run(&old).await.unwrap();

    let out = app.watchdog().await.unwrap();

    assert!(
        !out.steps.iter().any(|b| b.contains("\"web\"")),
        "a waiting step is woken by a freed slot, not polled: {:?}",
        out.steps
    );
    assert_eq!(waiters(&app).await.len(), 1);
    assert_eq!(run(&app, &first).await.status, RunStatus::Running);
}

#[test]
fn nightshift_max_jobs_defaults_to_16_and_refuses_zero() {
    let s = Settings::from_lookup(|_| None).unwrap();
    assert_eq!(s.max_jobs, 16);
    let e =
        Settings::from_lookup(|k| (k == "NIGHTSHIFT_MAX_JOBS").then(|| "0".into())).unwrap_err();
    assert_eq!(e.name, "NIGHTSHIFT_MAX_JOBS");
    assert!(e.to_string().contains("between 1 and"), "{e}");
}

#[tokio::test]
async fn the_watchdog_drops_the_slot_and_the_waiters_of_a_run_that_ended_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "1");
    let (_, first) = release_and_dispatch(&app, "pr-1").await;
    assert_eq!(
        (tokens(&app).await.len(), waiters(&app).await.len()),
        (1, 1)
    );
    // The run ended (e.g. failed for good) while one step held the slot and the other waited for it.
    let mut ended = run(&app, &first).await;
    ended.status = RunStatus::Failed;
    app.repo.put_run(&ended).await.unwrap();

    let out = app.watchdog().await.unwrap();

    assert!(out.steps.is_empty(), "nothing to wake: {:?}", out.steps);
    assert!(tokens(&app).await.is_empty());
    assert!(waiters(&app).await.is_empty());
    assert!(
        app.repo
            .store()
            .list("job-slots/")
            .await
            .unwrap()
            .is_empty(),
        "no key left behind"
    );
}

#[tokio::test]
async fn a_slot_given_back_by_a_job_that_cannot_start_wakes_the_next_waiter_from_step_dispatch() {
    // api holds the only slot; web (whose secret is missing) and zed wait, in that order.
    let catalog = CATALOG.replace(
        "  web: { smoke: { command: [\"true\"] } }",
        "  web: { smoke: { command: [\"true\"] }, secrets: { TOKEN: missing-secret } }\n  zed: { smoke: { command: [\"true\"] } }",
    );
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), "1", &catalog);
    let (_, first) = release_and_dispatch(&app, "pr-1").await;
    assert_eq!(
        waiters(&app).await,
        vec![format!("{first}/web"), format!("{first}/zed")]
    );
    let woken = app
        .step_event(&result(&first, "api", 1), "e-1")
        .await
        .unwrap()
        .steps;
    assert!(woken[0].contains("\"web\""), "{woken:?}");

    // web gets the slot, its job cannot start: it fails, and step-dispatch itself wakes zed.
    let out = app.dispatch(&woken[0], "w-1").await.unwrap();

    assert_eq!(
        status_of(&run(&app, &first).await, "web"),
        StepStatus::Failed
    );
    assert_eq!(out.steps.len(), 1, "{:?}", out.logs);
    assert!(out.steps[0].contains("\"zed\""), "{:?}", out.steps);
    assert!(waiters(&app).await.is_empty());
}

/// `a`, then `b` and `c` (both need `a`).
const FORK: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  a: { smoke: { command: ["true"] } }
  b: { smoke: { command: ["true"] }, needs: [a] }
  c: { smoke: { command: ["true"] }, needs: [a] }
environments:
  pr: { kind: pull-request }
"#;

fn dispatched(out: &[String]) -> Vec<String> {
    out.iter()
        .map(|b| {
            let m: StepMessage = serde_json::from_str(b).unwrap();
            format!("{}/{}", m.run_id, m.step)
        })
        .collect()
}

#[tokio::test]
async fn a_slot_freed_by_a_step_goes_to_the_next_step_of_its_run_before_a_waiter_of_a_newer_run() {
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), "1", FORK);
    let (_, first) = release_and_dispatch(&app, "pr-1").await;
    let (_, second) = release_and_dispatch(&app, "pr-2").await;
    assert_eq!(waiters(&app).await, vec![format!("{second}/a")]);

    // a reports: b and c are made ready; the slot goes to b, the newer run's a goes on waiting.
    let out = app
        .step_event(&result(&first, "a", 1), "e-1")
        .await
        .unwrap();
    assert_eq!(
        dispatched(&out.steps),
        vec![format!("{first}/b"), format!("{first}/c")],
        "{:?}",
        out.logs
    );
    app.dispatch(&out.steps[0], "d-b").await.unwrap();
    let woken = app.dispatch(&out.steps[1], "d-c").await.unwrap();
    assert!(woken.steps.is_empty(), "{:?}", woken.steps);
    let first_run = run(&app, &first).await;
    assert_eq!(status_of(&first_run, "b"), StepStatus::Running);
    assert_eq!(status_of(&first_run, "c"), StepStatus::Queued);

    // b reports: the slot goes to c, queued after the newer run's a but of the older run.
    let out = app
        .step_event(&result(&first, "b", 1), "e-2")
        .await
        .unwrap();
    assert_eq!(dispatched(&out.steps), vec![format!("{first}/c")]);
    assert_eq!(waiters(&app).await, vec![format!("{second}/a")]);
}

#[tokio::test]
async fn a_waiting_key_of_the_earlier_form_is_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path(), "1");
    let (_, first) = release_and_dispatch(&app, "pr-1").await;
    // The earlier form: `<since>_<run>_<step>_<attempt>`, as a store written before the runs' age was in the key.
    let web = Holder::new(&first, &StepName::parse("web").unwrap(), 1);
    for (key, _) in app.repo.slot_waiters().await.unwrap() {
        app.repo.store().delete(&key).await.unwrap();
    }
    let old_key = format!("job-slots/waiting/20261201T000000.000000Z_{first}_web_1");
    app.repo
        .put_json(&old_key, &web, nightshift_core::ports::Precondition::None)
        .await
        .unwrap();
    assert_eq!(waiters(&app).await, vec![format!("{first}/web")]);

    let out = app
        .step_event(&result(&first, "api", 1), "e-1")
        .await
        .unwrap();
    assert_eq!(dispatched(&out.steps), vec![format!("{first}/web")]);
    assert!(waiters(&app).await.is_empty());
}

/// `a`, then `b`: FORK without `c`.
fn chain() -> String {
    FORK.replace("  c: { smoke: { command: [\"true\"] }, needs: [a] }\n", "")
}

async fn held(app: &App) -> Vec<String> {
    app.repo.store().list("job-slots/held/").await.unwrap()
}

async fn token_holder(app: &App, key: &str) -> String {
    let (h, _) = app.repo.get_json::<Holder>(key).await.unwrap().unwrap();
    format!("{}/{}", h.run, h.step)
}

#[tokio::test]
async fn the_next_step_of_a_chain_gets_the_finished_steps_slot_and_a_repeated_result_does_not_take_it_back(
) {
    // Arrange: one slot, a holding it.
    let dir = tempfile::tempdir().unwrap();
    let app = app_with(dir.path(), "1", &chain());
    let (_, id) = release_and_dispatch(&app, "pr-1").await;
    let before = tokens(&app).await;
    assert_eq!(before.len(), 1);

    // Act: a reports, and its result is delivered again.
    let out = app.step_event(&result(&id, "a", 1), "e-1").await.unwrap();
    let again = app.step_event(&result(&id, "a", 1), "e-1").await.unwrap();

    // Assert: the same token now names b, only b's `held` key is left, and b's dispatch finds the slot its own.
    assert_eq!(tokens(&app).await, before);
    assert_eq!(token_holder(&app, &before[0]).await, format!("{id}/b"));
    assert_eq!(held(&app).await.len(), 1, "{:?}", held(&app).await);
    assert!(held(&app).await[0].ends_with("_b_1"));
    assert_eq!(dispatched(&out.steps), vec![format!("{id}/b")]);
    assert_eq!(dispatched(&again.steps), vec![format!("{id}/b")]);
    app.dispatch(&out.steps[0], "d-b").await.unwrap();
    assert_eq!(status_of(&run(&app, &id).await, "b"), StepStatus::Running);
    assert!(waiters(&app).await.is_empty());
}

/// A store that records the writes, deletions and listings reaching it, and, given a `stranger`, plays the watchdog
/// reclaiming a slot that another attempt then takes, just as a holder passes it on (between the holder's read of
/// the token and its conditional rewrite).
struct Watched {
    inner: nightshift_local::store::FsStore,
    ops: std::sync::Mutex<Vec<String>>,
    stranger: Option<Vec<u8>>,
}

impl Watched {
    fn new(dir: &std::path::Path, stranger: Option<Vec<u8>>) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            inner: nightshift_local::store::FsStore::new(dir),
            ops: Default::default(),
            stranger,
        })
    }
}

#[async_trait::async_trait]
impl Store for Watched {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError> {
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, bytes: Vec<u8>, pre: Precondition) -> Result<String, PortError> {
        self.ops.lock().unwrap().push(format!("put {key}"));
        if let Some(stranger) = &self.stranger {
            if key.starts_with("job-slots/tokens/") && matches!(pre, Precondition::Version(_)) {
                self.inner.delete(key).await?;
                self.inner
                    .put(key, stranger.clone(), Precondition::Absent)
                    .await?;
            }
        }
        self.inner.put(key, bytes, pre).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        self.ops.lock().unwrap().push(format!("list {prefix}"));
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.ops.lock().unwrap().push(format!("delete {key}"));
        self.inner.delete(key).await
    }
}

#[tokio::test]
async fn a_slot_reclaimed_while_it_is_being_passed_is_not_passed_and_its_giver_holds_nothing() {
    // Arrange: a holds slot 0.
    let dir = tempfile::tempdir().unwrap();
    let id = RunId::parse("shop.pr-1.r1-0-0-4ec7d67211").unwrap();
    let holder = |step: &str| Holder::new(&id, &StepName::parse(step).unwrap(), 1);
    let stranger = serde_json::to_vec(&holder("x")).unwrap();
    let repo = nightshift_app::repo::Repo::new(Watched::new(dir.path(), Some(stranger)));
    assert_eq!(repo.acquire_slot(&holder("a"), 1).await.unwrap(), Some(0));

    // Act: a passes it to b, and loses the race.
    let pass = repo.pass_slot(&holder("a"), &holder("b")).await.unwrap();

    // Assert: nothing passed; the stranger keeps the token; neither a nor b holds a slot.
    assert_eq!(pass, Pass::Lost);
    let (now, _) = repo
        .get_json::<Holder>("job-slots/tokens/00000")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now, holder("x"));
    assert_eq!(repo.slot_of(&holder("a")).await.unwrap(), None);
    assert_eq!(repo.slot_of(&holder("b")).await.unwrap(), None);
    assert!(repo
        .store()
        .list("job-slots/held/")
        .await
        .unwrap()
        .iter()
        .all(|k| !k.ends_with("_a_1")));
}

#[tokio::test]
async fn a_slot_passed_to_the_next_step_is_never_free_in_between_and_no_listing_is_read() {
    // Arrange: a holds slot 0 of 16.
    let dir = tempfile::tempdir().unwrap();
    let id = RunId::parse("shop.pr-1.r1-0-0-4ec7d67211").unwrap();
    let holder = |step: &str| Holder::new(&id, &StepName::parse(step).unwrap(), 1);
    let store = Watched::new(dir.path(), None);
    let repo = nightshift_app::repo::Repo::new(store.clone());
    let slot = repo.acquire_slot(&holder("a"), 16).await.unwrap().unwrap();
    store.ops.lock().unwrap().clear();

    // Act
    let pass = repo.pass_slot(&holder("a"), &holder("b")).await.unwrap();

    // Assert: b's claim, then the token rewritten in place, then a's claim removed; nothing else.
    assert_eq!(pass, Pass::Passed);
    assert_eq!(repo.slot_of(&holder("b")).await.unwrap(), Some(slot));
    let (run, a, b) = (&id, "job-slots/held", "job-slots/tokens");
    assert_eq!(
        *store.ops.lock().unwrap(),
        vec![
            format!("put {a}/{run}_b_1"),
            format!("put {b}/{slot:05}"),
            format!("delete {a}/{run}_a_1"),
        ]
    );
}
