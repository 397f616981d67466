//! `engine::apply_in_place` (the fold of a run's event journal) gives exactly what `engine::apply` gives.

use chrono::{DateTime, Duration, TimeZone, Utc};
use nightshift_core::catalog::Catalog;
use nightshift_core::engine::{self, Event};
use nightshift_core::names::{EnvironmentName, JobName, StepName};
use nightshift_core::planner::{plan, PlanRequest};
use nightshift_core::run::{Run, Trigger};
use std::collections::BTreeMap;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: azure
defaults: { retries: 2, backoff: 30s }
steps:
  infra: { smoke: { command: ["true"] } }
  app: { needs: [infra], smoke: { command: ["true"] } }
  data: { needs: [infra], retries: 0, smoke: { command: ["true"] } }
  check: { needs: [app, data], smoke: { command: ["true"] } }
environments:
  pr: { kind: pull-request }
"#;

fn t(s: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 2, 0, 0).unwrap() + Duration::seconds(s)
}

fn s(n: &str) -> StepName {
    StepName::parse(n).unwrap()
}

fn planned() -> Run {
    let c = Catalog::parse_files(&[("catalog/shop.yaml".into(), CATALOG.into())]).unwrap();
    plan(PlanRequest {
        product: &c.products[0],
        environment: &EnvironmentName::parse("pr-1").unwrap(),
        trigger: Trigger::Nightly {
            night: chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
            rebuild: 0,
        },
        ttl: None,
        instance: "nightshift",
        now: t(0),
    })
    .unwrap()
}

#[test]
fn applying_in_place_gives_the_run_and_commands_apply_gives_and_a_non_event_leaves_the_run_as_it_was(
) {
    let mut run = planned();
    let id = run.id.clone();
    let started = |n: &str, a: u32| Event::JobStarted {
        step: s(n),
        attempt: a,
        job: JobName::for_attempt(&id, &s(n), a),
    };
    let ok = |n: &str, a: u32| Event::StepSucceeded {
        step: s(n),
        attempt: a,
        outputs: BTreeMap::new(),
    };
    let failed = |n: &str, a: u32| Event::StepFailed {
        step: s(n),
        attempt: a,
        reason: "boom".into(),
        retryable: true,
    };
    let events = [
        Event::Start,
        started("infra", 1),
        started("infra", 1),
        ok("infra", 1),
        ok("infra", 1),
        started("app", 1),
        failed("app", 1),
        started("app", 2),
        ok("app", 2),
        started("data", 1),
        failed("data", 1),
        failed("data", 1),
        Event::Start,
    ];
    let mut applied = 0;
    for (i, e) in events.iter().enumerate() {
        let expected = engine::apply(&run, e, t(i as i64));
        let before = run.clone();

        let (commands, changed) = engine::apply_in_place(&mut run, e, t(i as i64));

        assert_eq!(changed, expected.changed, "{e:?}");
        assert_eq!(commands, expected.commands, "{e:?}");
        assert_eq!(run, expected.run, "{e:?}");
        if !changed {
            assert_eq!(run, before, "{e:?} did not apply, yet the run changed");
        }
        applied += usize::from(changed);
    }
    assert_eq!(applied, 9);
    assert!(run.status.is_finished());
}
