//! The per-run cap on running jobs (`max_parallel`, issue 9 item 3): the catalog validates it, the planner carries it
//! into the run, and the engine never has more than that many steps queued, running or retrying at once; the others
//! stay pending and say why.

use chrono::{DateTime, Duration, TimeZone, Utc};
use nightshift_core::catalog::Catalog;
use nightshift_core::engine::{apply, Command, Event};
use nightshift_core::planner::{plan, PlanRequest};
use nightshift_core::run::{Run, RunStatus, StepStatus, Trigger};
use nightshift_core::{EnvironmentName, JobName, StepName};
use std::collections::BTreeMap;

const FIVE_INDEPENDENT: &str = r#"
schema: nightshift.catalog/v1
product: wide
platform: local
defaults: { retries: 1, backoff: 1s, max_parallel: 2 }
steps:
  a: { smoke: { command: ["true"] } }
  b: { smoke: { command: ["true"] } }
  c: { smoke: { command: ["true"] } }
  d: { smoke: { command: ["true"] } }
  e: { smoke: { command: ["true"] } }
environments:
  pr: { kind: pull-request }
  main: { kind: persistent, max_parallel: 4 }
"#;

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 1, 0, 0).unwrap() + Duration::seconds(s)
}

fn parse(text: &str) -> Result<Catalog, nightshift_core::catalog::CatalogError> {
    Catalog::parse_files(&[("catalog/wide.yaml".into(), text.into())])
}

fn planned(text: &str, env: &str) -> Run {
    let c = parse(text).unwrap();
    plan(PlanRequest {
        product: &c.products[0],
        environment: &EnvironmentName::parse(env).unwrap(),
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

fn in_flight(run: &Run) -> Vec<String> {
    run.steps
        .iter()
        .filter(|(_, s)| {
            matches!(
                s.status,
                StepStatus::Queued | StepStatus::Running | StepStatus::Retrying
            )
        })
        .map(|(k, _)| k.to_string())
        .collect()
}

fn dispatched(commands: &[Command]) -> usize {
    commands
        .iter()
        .filter(|c| matches!(c, Command::Dispatch(_) | Command::DispatchAt(..)))
        .count()
}

#[test]
fn a_run_with_max_parallel_2_and_5_independent_steps_never_has_more_than_2_queued_or_running() {
    let mut run = planned(FIVE_INDEPENDENT, "pr-1");
    assert_eq!(run.max_parallel, Some(2));
    let o = apply(&run, &Event::Start, t(0));
    assert_eq!(
        dispatched(&o.commands),
        2,
        "only two steps are sent at first"
    );
    run = o.run;
    let waiting: Vec<_> = run
        .steps
        .values()
        .filter(|s| s.status == StepStatus::Pending)
        .collect();
    assert_eq!(waiting.len(), 3);
    assert!(waiting
        .iter()
        .all(|s| s.reason.as_deref() == Some("waiting for a job slot: max_parallel 2")));

    // Drive every transition: each in-flight step starts, and the first attempt of `b` fails once (retrying holds
    // its slot until the retry ends).
    let mut clock = 1;
    let mut failed_b = false;
    while run.status == RunStatus::Running {
        let flight = in_flight(&run);
        assert!(flight.len() <= 2, "more than 2 in flight: {flight:?}");
        let name = StepName::parse(&flight[0]).unwrap();
        let attempt = run.steps[&name].attempt;
        clock += 1;
        let started = apply(
            &run,
            &Event::JobStarted {
                step: name.clone(),
                attempt,
                job: JobName::for_attempt(&run.id, &name, attempt),
            },
            t(clock),
        );
        assert!(in_flight(&started.run).len() <= 2);
        let event = if name.as_str() == "b" && !failed_b {
            failed_b = true;
            Event::StepFailed {
                step: name.clone(),
                attempt,
                reason: "flaky".into(),
                retryable: true,
            }
        } else {
            Event::StepSucceeded {
                step: name.clone(),
                attempt,
                outputs: BTreeMap::new(),
            }
        };
        clock += 1;
        let o = apply(&started.run, &event, t(clock));
        assert!(
            in_flight(&o.run).len() <= 2,
            "after {event:?}: {:?}",
            in_flight(&o.run)
        );
        run = o.run;
    }
    assert!(failed_b);
    assert_eq!(run.status, RunStatus::Succeeded);
    assert!(
        run.steps
            .values()
            .all(|s| !s.reason.as_deref().unwrap_or("").starts_with("waiting")),
        "a step that got its slot no longer says it waits"
    );
}

#[test]
fn a_step_freed_by_a_finished_step_is_queued_in_catalog_order() {
    let run = apply(&planned(FIVE_INDEPENDENT, "pr-1"), &Event::Start, t(0)).run;
    let a = StepName::parse("a").unwrap();
    let o = apply(
        &run,
        &Event::StepSucceeded {
            step: a,
            attempt: 1,
            outputs: BTreeMap::new(),
        },
        t(5),
    );
    let queued: Vec<String> = o
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::Dispatch(m) => Some(m.step.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(queued, vec!["c"]);
}

#[test]
fn an_environments_max_parallel_overrides_the_products_default_and_no_cap_is_the_default() {
    assert_eq!(planned(FIVE_INDEPENDENT, "main").max_parallel, Some(4));
    let uncapped = FIVE_INDEPENDENT
        .replace(", max_parallel: 2", "")
        .replace(", max_parallel: 4", "");
    let run = planned(&uncapped, "pr-1");
    assert_eq!(run.max_parallel, None);
    assert_eq!(dispatched(&apply(&run, &Event::Start, t(0)).commands), 5);
}

#[test]
fn a_max_parallel_of_zero_or_too_large_is_refused_naming_the_file_and_field() {
    let e = parse(&FIVE_INDEPENDENT.replace("max_parallel: 2", "max_parallel: 0")).unwrap_err();
    assert_eq!(e.file, "catalog/wide.yaml");
    assert_eq!(e.field, "defaults.max_parallel");
    assert!(e.message.contains("at least 1"), "{e}");
    let e = parse(&FIVE_INDEPENDENT.replace("max_parallel: 4", "max_parallel: 5000")).unwrap_err();
    assert_eq!(e.field, "environments.main.max_parallel");
    assert!(e.message.contains("at most 1000"), "{e}");
    let e = parse(&FIVE_INDEPENDENT.replace("max_parallel: 4", "max_parallel: many")).unwrap_err();
    assert!(e.to_string().contains("max_parallel"), "{e}");
}

#[test]
fn a_run_document_written_before_max_parallel_existed_reads_as_uncapped() {
    let run = planned(FIVE_INDEPENDENT, "main");
    let mut doc = serde_json::to_value(&run).unwrap();
    doc.as_object_mut().unwrap().remove("max_parallel");
    let old: Run = serde_json::from_value(doc).unwrap();
    assert_eq!(old.max_parallel, None);
}
