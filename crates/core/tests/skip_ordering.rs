//! A step skipped at planning (a seed with no data tier to load in a persistent environment) holds its dependents
//! back until its own dependencies are satisfied: the chain is waited for as a whole (issue 7, item 6).

use chrono::{DateTime, Duration, TimeZone, Utc};
use nightshift_core::catalog::Catalog;
use nightshift_core::engine::{apply, Command, Event};
use nightshift_core::planner::{plan, PlanRequest};
use nightshift_core::run::{Run, RunStatus, StepStatus, Trigger};
use nightshift_core::{EnvironmentName, JobName, StepName};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 1, 0, 0).unwrap() + Duration::seconds(s)
}

fn s(n: &str) -> StepName {
    StepName::parse(n).unwrap()
}

fn persistent_run(catalog: &str) -> Run {
    let c = Catalog::parse_files(&[("c.yaml".into(), catalog.into())]).unwrap();
    plan(PlanRequest {
        product: &c.products[0],
        environment: &EnvironmentName::parse("main").unwrap(),
        trigger: Trigger::Release {
            version: "1.0.0".into(),
            requested_by: "test".into(),
            message_id: "m-1".into(),
            commit_time: None,
        },
        ttl: None,
        instance: "nightshift",
        now: t(0),
    })
    .unwrap()
}

fn dispatched(commands: &[Command]) -> Vec<String> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Dispatch(m) => Some(m.step.to_string()),
            _ => None,
        })
        .collect()
}

fn succeed(run: &Run, step: &StepName, at: i64) -> (Run, Vec<Command>) {
    let o = apply(
        run,
        &Event::JobStarted {
            step: step.clone(),
            attempt: 1,
            job: JobName::for_attempt(&run.id, step, 1),
        },
        t(at),
    );
    let o = apply(
        &o.run,
        &Event::StepSucceeded {
            step: step.clone(),
            attempt: 1,
            outputs: BTreeMap::new(),
        },
        t(at),
    );
    (o.run, o.commands)
}

const CHAIN: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  referentiel:
    ansible: { playbook: seeds/referentiel.yml, tiers: [reference] }
  jeux-de-test:
    needs: [referentiel]
    ansible: { playbook: seeds/jeux.yml, tiers: [test] }
  smoke:
    needs: [jeux-de-test]
    smoke: { command: [python3, smoke.py] }
environments:
  main: { kind: persistent }
"#;

#[test]
fn in_a_persistent_environment_smoke_waits_for_the_reference_data_behind_a_skipped_test_seed() {
    let run = persistent_run(CHAIN);

    let started = apply(&run, &Event::Start, t(0));

    assert_eq!(
        dispatched(&started.commands),
        vec!["referentiel"],
        "smoke must not start before referentiel has loaded anything"
    );
    assert_eq!(
        started.run.steps[&s("jeux-de-test")].status,
        StepStatus::Pending,
        "the skipped seed is not done before its own dependency"
    );
    let (run, commands) = succeed(&started.run, &s("referentiel"), 5);
    assert_eq!(dispatched(&commands), vec!["smoke"]);
    assert_eq!(run.steps[&s("jeux-de-test")].status, StepStatus::Skipped);
    assert!(run.steps[&s("jeux-de-test")]
        .reason
        .as_deref()
        .unwrap()
        .contains("no data tier"));
    let (run, _) = succeed(&run, &s("smoke"), 9);
    assert_eq!(run.status, RunStatus::Succeeded);
}

#[test]
fn a_skipped_step_whose_dependency_failed_is_cancelled_and_the_run_fails() {
    let run = apply(&persistent_run(CHAIN), &Event::Start, t(0)).run;

    let o = apply(
        &run,
        &Event::StepFailed {
            step: s("referentiel"),
            attempt: 1,
            reason: "boom".into(),
            retryable: false,
        },
        t(3),
    );

    assert_eq!(
        o.run.steps[&s("jeux-de-test")].status,
        StepStatus::Cancelled
    );
    assert_eq!(o.run.steps[&s("smoke")].status, StepStatus::Cancelled);
    assert_eq!(o.run.status, RunStatus::Failed);
}

/// A catalog of `n` steps: step i needs the steps in `needs[i]` (all before it); a step is a test-only seed
/// (skipped in a persistent environment) when `skip[i]`, otherwise a smoke check.
fn random_catalog(needs: &[BTreeSet<usize>], skip: &[bool]) -> String {
    let mut y =
        String::from("schema: nightshift.catalog/v1\nproduct: shop\nplatform: local\nsteps:\n");
    for (i, deps) in needs.iter().enumerate() {
        y.push_str(&format!("  s{i}:\n"));
        if !deps.is_empty() {
            let list: Vec<String> = deps.iter().map(|d| format!("s{d}")).collect();
            y.push_str(&format!("    needs: [{}]\n", list.join(", ")));
        }
        if skip[i] {
            y.push_str(&format!(
                "    ansible: {{ playbook: seeds/s{i}.yml, tiers: [test] }}\n"
            ));
        } else {
            y.push_str("    smoke: { command: [\"true\"] }\n");
        }
    }
    y.push_str("environments:\n  main: { kind: persistent }\n");
    y
}

fn transitive(needs: &[BTreeSet<usize>], i: usize) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<usize> = needs[i].iter().copied().collect();
    while let Some(d) = todo.pop() {
        if out.insert(d) {
            todo.extend(needs[d].iter().copied());
        }
    }
    out
}

proptest! {
    /// Over random DAGs with random skips, completing queued steps in a random order: no step is queued, and no
    /// skipped step is marked skipped, before every step it transitively needs has succeeded or been skipped;
    /// and the run ends succeeded with every step done.
    #[test]
    fn no_step_starts_before_everything_it_transitively_needs_is_done(
        raw in proptest::collection::vec((proptest::collection::vec(0usize..100, 0..4), any::<bool>()), 1..14),
        picks in proptest::collection::vec(0usize..1000, 40),
    ) {
        let needs: Vec<BTreeSet<usize>> = raw
            .iter()
            .enumerate()
            .map(|(i, (ds, _))| if i == 0 { BTreeSet::new() } else { ds.iter().map(|d| d % i).collect() })
            .collect();
        let skip: Vec<bool> = raw.iter().map(|(_, k)| *k).collect();
        let mut run = apply(&persistent_run(&random_catalog(&needs, &skip)), &Event::Start, t(0)).run;
        let mut picks = picks.into_iter().cycle();
        for round in 0..200 {
            let queued: Vec<StepName> = run
                .steps
                .iter()
                .filter(|(_, st)| st.status == StepStatus::Queued)
                .map(|(k, _)| k.clone())
                .collect();
            if queued.is_empty() {
                break;
            }
            let next = &queued[picks.next().unwrap() % queued.len()];
            run = succeed(&run, next, round + 1).0;
        }
        prop_assert_eq!(run.status, RunStatus::Succeeded);
        // The journal is in order: the index at which each step reached a state.
        let when = |step: &str, to: &[&str]| {
            run.journal
                .iter()
                .position(|j| j.step.as_ref().map(|x| x.as_str()) == Some(step) && to.contains(&j.to.as_str()))
        };
        for (i, skipped) in skip.iter().enumerate() {
            let me = format!("s{i}");
            let began = if *skipped { when(&me, &["skipped"]) } else { when(&me, &["queued"]) };
            let began = began.unwrap_or_else(|| panic!("{me} never began"));
            for d in transitive(&needs, i) {
                let done = when(&format!("s{d}"), &["succeeded", "skipped"]);
                prop_assert!(
                    done.is_some_and(|at| at < began),
                    "s{} began before s{} (which it needs) was done", i, d
                );
            }
        }
    }
}
