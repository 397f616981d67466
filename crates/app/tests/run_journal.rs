//! Runs kept as an append-only event journal per run (docs/architecture.md), through `Repo` on the local store,
//! with a store wrapper that counts bytes read and written, conditional-write conflicts and writes.

use chrono::{DateTime, Duration, TimeZone, Utc};
use nightshift_app::repo::{journal_key, run_key, Repo};
use nightshift_core::catalog::Catalog;
use nightshift_core::engine::{Command, Event};
use nightshift_core::names::{EnvironmentName, JobName, StepName};
use nightshift_core::planner::{self, PlanRequest};
use nightshift_core::ports::{PortError, Precondition, Store, Versioned};
use nightshift_core::run::{Run, RunStatus, StepStatus, Trigger};
use nightshift_local::store::FsStore;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts what goes through a store.
#[derive(Default)]
struct Counts {
    read: AtomicU64,
    written: AtomicU64,
    writes: AtomicU64,
    conflicts: AtomicU64,
}

struct Counting {
    inner: FsStore,
    counts: Arc<Counts>,
}

impl Counting {
    fn wrote(&self, n: usize) {
        self.counts.written.fetch_add(n as u64, Ordering::SeqCst);
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Store for Counting {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError> {
        let got = self.inner.get(key).await?;
        let n = got.as_ref().map(|v| v.bytes.len()).unwrap_or_default();
        self.counts.read.fetch_add(n as u64, Ordering::SeqCst);
        Ok(got)
    }
    async fn put(&self, key: &str, bytes: Vec<u8>, pre: Precondition) -> Result<String, PortError> {
        self.wrote(bytes.len());
        let out = self.inner.put(key, bytes, pre).await;
        if matches!(out, Err(PortError::Conflict(_))) {
            self.counts.conflicts.fetch_add(1, Ordering::SeqCst);
        }
        out
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.inner.delete(key).await
    }
    async fn create_appendable(&self, key: &str, first: Vec<u8>) -> Result<bool, PortError> {
        self.wrote(first.len());
        self.inner.create_appendable(key, first).await
    }
    async fn append(&self, key: &str, record: Vec<u8>) -> Result<Option<u64>, PortError> {
        self.wrote(record.len());
        self.inner.append(key, record).await
    }
    async fn read_from(&self, key: &str, offset: u64) -> Result<Option<Vec<u8>>, PortError> {
        let got = self.inner.read_from(key, offset).await?;
        let n = got.as_ref().map(Vec::len).unwrap_or_default();
        self.counts.read.fetch_add(n as u64, Ordering::SeqCst);
        Ok(got)
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    counts: Arc<Counts>,
    store: Arc<dyn Store>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let counts = Arc::new(Counts::default());
        let store: Arc<dyn Store> = Arc::new(Counting {
            inner: FsStore::new(dir.path().join("state")),
            counts: counts.clone(),
        });
        Self { dir, counts, store }
    }
    /// A repo with a cache of its own, as in another process.
    fn repo(&self) -> Repo {
        Repo::new(self.store.clone())
    }
    fn read(&self) -> u64 {
        self.counts.read.load(Ordering::SeqCst)
    }
    fn written(&self) -> u64 {
        self.counts.written.load(Ordering::SeqCst)
    }
    fn writes(&self) -> u64 {
        self.counts.writes.load(Ordering::SeqCst)
    }
    fn path(&self, key: &str) -> std::path::PathBuf {
        self.dir.path().join("state").join(key)
    }
}

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 2, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn step(n: usize) -> StepName {
    StepName::parse(&format!("s{n:03}")).unwrap()
}

/// A run of `n` trivial steps: a chain (each needs the one before) or a fan-out (none needs another).
fn planned(n: usize, chain: bool) -> Run {
    let mut yaml = String::from(
        "schema: nightshift.catalog/v1\nproduct: shape\nplatform: azure\ndefaults: { retries: 2, backoff: 30s }\nsteps:\n",
    );
    for i in 0..n {
        let needs = if chain && i > 0 {
            format!("needs: [s{:03}], ", i - 1)
        } else {
            String::new()
        };
        yaml.push_str(&format!(
            "  s{i:03}: {{ {needs}smoke: {{ command: [\"true\"] }} }}\n"
        ));
    }
    yaml.push_str("environments:\n  pr: { kind: pull-request }\n");
    let catalog = Catalog::parse_files(&[("catalog/shape.yaml".into(), yaml)]).unwrap();
    planner::plan(PlanRequest {
        product: catalog.product("shape").unwrap(),
        environment: &EnvironmentName::parse("pr-1").unwrap(),
        trigger: Trigger::Release {
            version: "1.0.0".into(),
            requested_by: "pipeline".into(),
            message_id: "release-1".into(),
            commit_time: None,
        },
        ttl: None,
        instance: "nightshift-test",
        now: t(0),
    })
    .unwrap()
}

fn started(run: &Run, n: usize) -> Event {
    Event::JobStarted {
        step: step(n),
        attempt: 1,
        job: JobName::for_attempt(&run.id, &step(n), 1),
    }
}

fn succeeded(n: usize) -> Event {
    Event::StepSucceeded {
        step: step(n),
        attempt: 1,
        outputs: BTreeMap::new(),
    }
}

async fn apply(repo: &Repo, run: &Run, e: &Event, at: i64) -> (Run, Vec<Command>, bool) {
    let (run, commands, changed) = repo.apply(&run.id, e, t(at)).await.unwrap().unwrap();
    (std::sync::Arc::unwrap_or_clone(run), commands, changed)
}

async fn created_and_started(f: &Fixture, run: &Run) -> Repo {
    let repo = f.repo();
    assert!(repo.create_run(run).await.unwrap());
    assert!(apply(&repo, run, &Event::Start, 0).await.2);
    repo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_applies_on_different_steps_of_one_run_all_land_with_no_conflict_and_no_conditional_write(
) {
    // Arrange: a fan-out of 20, every step queued; 20 writers, each with a cache of its own (as 20 processes).
    let f = Fixture::new();
    let run = planned(20, false);
    created_and_started(&f, &run).await;
    let puts_before = f.writes();

    // Act
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (repo, run, barrier) = (f.repo(), run.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                apply(&repo, &run, &started(&run, i), 1).await.2
            })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        applied += usize::from(task.await.unwrap());
    }

    // Assert
    assert_eq!(applied, 20);
    assert_eq!(f.counts.conflicts.load(Ordering::SeqCst), 0);
    assert_eq!(
        f.writes() - puts_before,
        20,
        "one append per event, nothing else"
    );
    let now = f.repo().run(&run.id).await.unwrap().unwrap();
    assert!(now.steps.values().all(|s| s.status == StepStatus::Running));
}

#[tokio::test]
async fn a_duplicate_event_appended_twice_changes_nothing_and_returns_no_commands_the_second_time()
{
    // Arrange
    let f = Fixture::new();
    let run = planned(3, true);
    let repo = created_and_started(&f, &run).await;
    apply(&repo, &run, &started(&run, 0), 1).await;
    let (after_first, commands, changed) = apply(&repo, &run, &succeeded(0), 2).await;
    assert!(changed);
    assert!(
        matches!(&commands[..], [Command::Dispatch(m)] if m.step == step(1)),
        "{commands:?}"
    );

    // Act: the same result delivered again, to this process and to another one.
    let again_here = apply(&repo, &run, &succeeded(0), 3).await;
    let again_there = apply(&f.repo(), &run, &succeeded(0), 4).await;

    // Assert
    for (run_now, commands, changed) in [again_here, again_there] {
        assert!(!changed);
        assert!(commands.is_empty(), "{commands:?}");
        assert_eq!(run_now, after_first);
    }
    assert_eq!(f.repo().run(&run.id).await.unwrap().unwrap(), after_first);
}

#[tokio::test]
async fn a_torn_last_record_is_ignored_by_readers_and_the_next_apply_lands_after_the_last_whole_one(
) {
    // Arrange: a writer died in the middle of a record.
    let f = Fixture::new();
    let run = planned(2, true);
    let repo = created_and_started(&f, &run).await;
    let before = repo.run(&run.id).await.unwrap().unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(f.path(&journal_key(&run.id)))
        .unwrap();
    file.write_all(br#"{"at":"2026-11-21T02:00:09Z","id":"x","event":{"type":"step-su"#)
        .unwrap();
    drop(file);

    // Act
    let read_by_another = f.repo().run(&run.id).await.unwrap().unwrap();
    let (after, _, changed) = apply(&f.repo(), &run, &started(&run, 0), 1).await;

    // Assert
    assert_eq!(read_by_another, before);
    assert!(changed);
    assert_eq!(after.steps[&step(0)].status, StepStatus::Running);
    assert_eq!(repo.run(&run.id).await.unwrap().unwrap(), after);
    let text = std::fs::read_to_string(f.path(&journal_key(&run.id))).unwrap();
    assert!(!text.contains("step-su\""), "the torn record is gone");
    assert!(text.ends_with('\n'));
}

#[tokio::test]
async fn a_warm_cache_reads_only_the_records_added_since_it_last_folded() {
    // Arrange: a chain of 200 (a journal of well over 50 KB), folded once by this process.
    let f = Fixture::new();
    let run = planned(200, true);
    let repo = created_and_started(&f, &run).await;
    apply(&repo, &run, &started(&run, 0), 1).await;
    let journal_size = std::fs::metadata(f.path(&journal_key(&run.id)))
        .unwrap()
        .len();
    assert!(journal_size > 50_000, "{journal_size}");
    // Another process appends a record this one has not folded.
    let (read0, written0) = (f.read(), f.written());
    apply(&f.repo(), &run, &succeeded(0), 2).await;
    let elsewhere = f.written() - written0;
    let (read1, written1) = (f.read(), f.written());

    // Act
    let (now, _, changed) = apply(&repo, &run, &started(&run, 1), 3).await;

    // Assert: this apply read the other process's record and its own, nothing more.
    assert!(changed);
    assert_eq!(now.steps[&step(1)].status, StepStatus::Running);
    let own = f.written() - written1;
    assert_eq!(f.read() - read1, elsewhere + own);
    assert!(
        read1 - read0 >= journal_size,
        "the cold process read it all"
    );
}

#[tokio::test]
async fn a_transition_folds_the_shared_state_in_place_instead_of_copying_the_run() {
    // Arrange: a chain of 400 folded by this process, read by a transition that is over (its copy dropped).
    let f = Fixture::new();
    let run = planned(400, true);
    let repo = created_and_started(&f, &run).await;
    let before = Arc::as_ptr(&repo.run_shared(&run.id).await.unwrap().unwrap()) as usize;

    // Act: the next transitions apply and read again.
    let (after_apply, _, changed) = repo
        .apply(&run.id, &started(&run, 0), t(1))
        .await
        .unwrap()
        .unwrap();
    let read_again = repo.run_shared(&run.id).await.unwrap().unwrap();

    // Assert: one state, changed where it is, and the same one every reader shares.
    assert!(changed);
    assert_eq!(
        Arc::as_ptr(&after_apply) as usize,
        before,
        "no copy of the run"
    );
    assert!(Arc::ptr_eq(&after_apply, &read_again));
    assert_eq!(read_again.steps[&step(0)].status, StepStatus::Running);
}

/// Bytes written and read per transition over the first steps of a chain of `n`.
async fn per_transition(n: usize) -> (u64, u64) {
    let f = Fixture::new();
    let run = planned(n, true);
    let repo = created_and_started(&f, &run).await;
    let (read0, written0) = (f.read(), f.written());
    let mut transitions = 0;
    for i in 0..5 {
        apply(&repo, &run, &started(&run, i), 1 + 2 * i as i64).await;
        apply(&repo, &run, &succeeded(i), 2 + 2 * i as i64).await;
        transitions += 2;
    }
    (
        (f.written() - written0) / transitions,
        (f.read() - read0) / transitions,
    )
}

#[tokio::test]
async fn the_bytes_written_and_read_per_transition_do_not_grow_with_the_step_count() {
    let (written_10, read_10) = per_transition(10).await;
    let (written_400, read_400) = per_transition(400).await;

    assert!(
        written_400 <= 2 * written_10,
        "written per transition: {written_10} (10 steps) vs {written_400} (400 steps)"
    );
    assert!(
        read_400 <= 2 * read_10,
        "read per transition: {read_10} (10 steps) vs {read_400} (400 steps)"
    );
    assert!(written_400 < 1024, "{written_400}");
}

#[tokio::test]
async fn a_finished_run_is_one_snapshot_and_a_later_event_writes_nothing() {
    // Arrange
    let f = Fixture::new();
    let run = planned(1, true);
    let repo = created_and_started(&f, &run).await;
    apply(&repo, &run, &started(&run, 0), 1).await;
    let (done, _, changed) = apply(&repo, &run, &succeeded(0), 2).await;
    assert!(changed);
    assert_eq!(done.status, RunStatus::Succeeded);
    let writes = f.writes();

    // Act
    let late = apply(&f.repo(), &run, &succeeded(0), 3).await;
    let late_here = apply(&repo, &run, &Event::Start, 4).await;

    // Assert
    assert_eq!(f.writes(), writes, "nothing written for a finished run");
    for (r, commands, changed) in [late, late_here] {
        assert!(!changed && commands.is_empty());
        assert_eq!(r, done);
    }
    let snapshot: Run =
        serde_json::from_slice(&std::fs::read(f.path(&run_key(&run.id))).unwrap()).unwrap();
    assert_eq!(snapshot, done);
}

#[tokio::test]
async fn a_finishing_record_whose_snapshot_was_never_written_gets_it_from_the_next_event() {
    // Arrange: the process died after appending the last result, before the snapshot.
    let f = Fixture::new();
    let run = planned(1, true);
    let repo = created_and_started(&f, &run).await;
    apply(&repo, &run, &started(&run, 0), 1).await;
    let line = format!(
        "{}\n",
        serde_json::json!({"at": t(2), "id": "dead", "event": succeeded(0)})
    );
    f.store
        .append(&journal_key(&run.id), line.into_bytes())
        .await
        .unwrap()
        .unwrap();
    assert!(!f.path(&run_key(&run.id)).exists());

    // Act: readers see it finished; the redelivered result finds it finished and writes the snapshot.
    let seen = f.repo().run(&run.id).await.unwrap().unwrap();
    let (after, commands, changed) = apply(&f.repo(), &run, &succeeded(0), 3).await;

    // Assert
    assert_eq!(seen.status, RunStatus::Succeeded);
    assert!(!changed && commands.is_empty());
    assert_eq!(after, seen);
    assert!(f.path(&run_key(&run.id)).exists());
}

#[tokio::test]
async fn a_finished_run_document_of_an_older_state_directory_reads_as_it_is() {
    let f = Fixture::new();
    let mut run = planned(2, true);
    run.status = RunStatus::Failed;
    std::fs::create_dir_all(f.path("runs")).unwrap();
    std::fs::write(
        f.path(&run_key(&run.id)),
        serde_json::to_vec_pretty(&run).unwrap(),
    )
    .unwrap();

    let read = f.repo().run(&run.id).await.unwrap().unwrap();
    let all = f.repo().runs().await.unwrap();

    assert_eq!(read, run);
    assert_eq!(all, vec![run.clone()]);
    assert!(!f.path(&journal_key(&run.id)).exists(), "no journal made");
}

#[tokio::test]
async fn an_unfinished_run_document_of_an_older_state_directory_becomes_its_journal_and_takes_events(
) {
    // Arrange: a run document written before the journals, its first step running.
    let f = Fixture::new();
    let run = planned(2, true);
    let legacy = nightshift_core::engine::apply(
        &nightshift_core::engine::apply(&run, &Event::Start, t(0)).run,
        &started(&run, 0),
        t(1),
    )
    .run;
    std::fs::create_dir_all(f.path("runs")).unwrap();
    std::fs::write(
        f.path(&run_key(&run.id)),
        serde_json::to_vec_pretty(&legacy).unwrap(),
    )
    .unwrap();

    // Act
    let read = f.repo().run(&run.id).await.unwrap().unwrap();
    let (after, commands, changed) = apply(&f.repo(), &run, &succeeded(0), 2).await;

    // Assert
    assert_eq!(read, legacy);
    assert!(f.path(&journal_key(&run.id)).exists());
    assert!(changed);
    assert!(
        matches!(&commands[..], [Command::Dispatch(m)] if m.step == step(1)),
        "{commands:?}"
    );
    assert_eq!(after.steps[&step(1)].status, StepStatus::Queued);
    assert_eq!(f.repo().run(&run.id).await.unwrap().unwrap(), after);
    assert_eq!(f.repo().runs().await.unwrap(), vec![after]);
}

#[tokio::test]
async fn an_unreadable_run_document_of_an_older_state_directory_is_refused_naming_the_file() {
    let f = Fixture::new();
    let run = planned(1, true);
    std::fs::create_dir_all(f.path("runs")).unwrap();
    std::fs::write(f.path(&run_key(&run.id)), b"{\"not\": \"a run\"}").unwrap();

    let err = f.repo().run(&run.id).await.unwrap_err();

    assert!(matches!(err, PortError::Permanent(_)), "{err}");
    assert!(err.to_string().contains(&run_key(&run.id)), "{err}");
}

/// What a step's job reads of its run, once the run has gone `done` steps into a chain of `n`.
async fn assignment_bytes(n: usize, done: usize) -> (usize, Run) {
    let f = Fixture::new();
    let run = planned(n, true);
    let repo = created_and_started(&f, &run).await;
    for i in 0..done {
        apply(&repo, &run, &started(&run, i), 1 + 2 * i as i64).await;
        apply(&repo, &run, &succeeded(i), 2 + 2 * i as i64).await;
    }
    let folded = repo.run(&run.id).await.unwrap().unwrap();
    repo.put_assignment(&folded, &step(done), 1).await.unwrap();
    let read = repo
        .assignment(&run.id, &step(done), 1)
        .await
        .unwrap()
        .unwrap();
    let bytes = serde_json::to_vec(&read).unwrap().len();
    (bytes, read)
}

#[tokio::test]
async fn a_jobs_assignment_holds_its_step_and_does_not_grow_with_the_run_so_the_runner_never_folds_the_journal(
) {
    let (small, _) = assignment_bytes(10, 5).await;
    let (large, read) = assignment_bytes(400, 5).await;

    assert!(
        large <= 2 * small,
        "assignment bytes: {small} (10 steps) vs {large} (400 steps)"
    );
    assert_eq!(
        read.steps.len(),
        1,
        "only its own step: the others have no outputs"
    );
    assert_eq!(read.steps.keys().next(), Some(&step(5)));
    assert!(read.journal.is_empty());
}
