//! Durations, from the catalog and from release messages, through every clock calculation that uses them.
//!
//! Issue 8, defect 2: values that validated and then panicked the watchdog (`engine::reconcile`), `up`
//! (`schedule::due_night`) and the handler (the planner), and release ttls that wrapped around silently. Every
//! duration is parsed with checked arithmetic and a maximum of 10 years; every clock calculation is checked.
//! The property tests run `NIGHTSHIFT_FUZZ_CASES` cases (a few hundred by default, in CI).

mod fuzz;

use chrono::{DateTime, NaiveTime, TimeZone, Utc, Weekday};
use nightshift_core::catalog::{Catalog, CatalogError, Schedule};
use nightshift_core::engine::{self, Event, JobObservation, WatchdogPolicy};
use nightshift_core::messages::Release;
use nightshift_core::names::{Ttl, MAX_DURATION_SECS};
use nightshift_core::planner::{plan, PlanError, PlanRequest};
use nightshift_core::run::Trigger;
use nightshift_core::schedule::due_night;
use nightshift_core::{EnvironmentName, JobName, StepName};
use proptest::prelude::*;
use std::collections::BTreeMap;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
defaults: { retries: 1, backoff: 1s, timeout: 30m }
steps:
  foundation:
    terraform: { stack: tf/foundation }
  smoke:
    needs: [foundation]
    smoke: { command: [python3, smoke.py] }
environments:
  nightly:
    kind: nightly
    schedule: { at: "02:00", timezone: Europe/Paris, catch_up: 6h }
    lifetime: 20h
  pr: { kind: pull-request, lifetime: 1d, max_lifetime: 30d }
"#;

fn parse(text: &str) -> Result<Catalog, CatalogError> {
    Catalog::parse_files(&[("catalog/shop.yaml".into(), text.into())])
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 1, 0, 0).unwrap()
}

#[test]
fn the_issue_s_overflowing_durations_are_refused_with_their_field_named() {
    for (from, to, field) in [
        (
            "timeout: 30m",
            "timeout: 10000000000000000s",
            "defaults.timeout",
        ),
        ("backoff: 1s", "backoff: 99999999999w", "defaults.backoff"),
        (
            "catch_up: 6h",
            "catch_up: 10000000000000000s",
            "environments.nightly.schedule.catch_up",
        ),
        (
            "lifetime: 20h",
            "lifetime: 99999999d",
            "environments.nightly.lifetime",
        ),
        (
            "max_lifetime: 30d",
            "max_lifetime: 999999999d",
            "environments.pr.max_lifetime",
        ),
        (
            "terraform: { stack: tf/foundation }",
            "timeout: 4000d\n    terraform: { stack: tf/foundation }",
            "steps.foundation.timeout",
        ),
        (
            "terraform: { stack: tf/foundation }",
            "estimate: 213503982334602d\n    terraform: { stack: tf/foundation }",
            "steps.foundation.estimate",
        ),
    ] {
        assert!(CATALOG.contains(from), "{from}");
        let e = parse(&CATALOG.replacen(from, to, 1)).unwrap_err();
        assert_eq!(e.field, field, "{to}: {e}");
        assert!(e.message.contains("at most 3650d"), "{to}: {e}");
    }
    // The maximum itself is accepted.
    parse(&CATALOG.replace("timeout: 30m", "timeout: 3650d")).unwrap();
}

#[test]
fn a_release_ttl_that_used_to_wrap_around_is_refused_naming_the_ttl() {
    let body = r#"{"schema":"nightshift.release/v1","product":"shop","environment":"pr-1","version":"1.0.0","requested_by":"ci","ttl":"213503982334602d"}"#;
    let e = Release::decode(body).unwrap_err();
    assert!(e.reason.starts_with("ttl:"), "{e}");
    assert!(e.reason.contains("at most 3650d"), "{e}");
}

/// A run as stored, with a garbled step timeout (documents are data: a hand edit or a bug can put anything there).
fn running_run_with_timeout(timeout_secs: u64) -> nightshift_core::run::Run {
    let c = parse(CATALOG).unwrap();
    let env = EnvironmentName::parse("pr-1").unwrap();
    let run = plan(PlanRequest {
        product: &c.products[0],
        environment: &env,
        trigger: Trigger::Release {
            version: "1.0.0".into(),
            requested_by: "ci".into(),
            message_id: "m-1".into(),
        },
        ttl: None,
        instance: "nightshift",
        now: now(),
    })
    .unwrap();
    let mut json = serde_json::to_value(&run).unwrap();
    json["steps"]["foundation"]["def"]["timeout_secs"] = serde_json::json!(timeout_secs);
    let run: nightshift_core::run::Run = serde_json::from_value(json).unwrap();
    let run = engine::apply(&run, &Event::Start, now()).run;
    let f = StepName::parse("foundation").unwrap();
    engine::apply(
        &run,
        &Event::JobStarted {
            step: f.clone(),
            attempt: 1,
            job: JobName::for_attempt(&run.id, &f, 1),
        },
        now(),
    )
    .run
}

#[test]
fn the_watchdog_survives_a_stored_timeout_past_chrono_s_range() {
    let run = running_run_with_timeout(u64::MAX);
    let f = StepName::parse("foundation").unwrap();
    let obs = BTreeMap::from([(f, (JobObservation::Running, None))]);
    let later = now() + chrono::Duration::days(365);
    let (events, commands) = engine::reconcile(&run, later, &obs, WatchdogPolicy::default());
    // Capped at ten years: a job running for one year has not timed out yet.
    assert!(events.is_empty(), "{events:?}");
    assert!(commands.is_empty(), "{commands:?}");
}

#[test]
fn the_nightly_schedule_survives_the_largest_catch_up_and_the_edges_of_the_calendar() {
    let schedule = Schedule {
        at: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
        timezone: chrono_tz::Europe::Paris,
        days: vec![Weekday::Mon, Weekday::Sat],
        catch_up_secs: u64::MAX,
    };
    // The night is still due (within ten years), and nothing panics.
    assert!(due_night(&schedule, now()).is_some());
    for edge in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
        let _ = due_night(&schedule, edge);
    }
}

#[test]
fn the_planner_refuses_an_expiry_past_the_end_of_the_calendar_instead_of_panicking() {
    let c = parse(CATALOG).unwrap();
    let env = EnvironmentName::parse("pr-1").unwrap();
    let r = plan(PlanRequest {
        product: &c.products[0],
        environment: &env,
        trigger: Trigger::Release {
            version: "1.0.0".into(),
            requested_by: "ci".into(),
            message_id: "m-1".into(),
        },
        ttl: Some(Ttl::parse("30d").unwrap()),
        instance: "nightshift",
        now: DateTime::<Utc>::MAX_UTC - chrono::Duration::days(1),
    });
    assert!(matches!(r, Err(PlanError::ExpiryOutOfRange(_))), "{r:?}");
}

#[test]
fn hostile_duration_texts_are_refused_or_accepted_within_bounds() {
    fuzz::run(
        "durations",
        3000,
        fuzz::duration_text(),
        |text| match Ttl::parse(text) {
            Ok(t) => {
                let secs = t.as_duration().as_secs();
                if secs == 0 || secs > MAX_DURATION_SECS {
                    fuzz::Outcome::Wrong(format!("accepted {secs}s"))
                } else if Ttl::parse(&t.to_string()) != Ok(t) {
                    fuzz::Outcome::Wrong(format!("{t} does not read back"))
                } else {
                    fuzz::Outcome::Accepted
                }
            }
            Err(e) if e.why.is_empty() => fuzz::Outcome::Wrong("refused without a reason".into()),
            Err(_) => fuzz::Outcome::Refused,
        },
    );
}

proptest! {
    #![proptest_config(fuzz::config(2000))]

    /// Any text: parsing never panics, and what it accepts is more than zero, at most ten years, and prints back
    /// to the same duration.
    #[test]
    fn any_text_parses_to_a_bounded_duration_or_a_reason(text in fuzz::duration_text()) {
        match Ttl::parse(&text) {
            Ok(t) => {
                let secs = t.as_duration().as_secs();
                prop_assert!(secs > 0 && secs <= MAX_DURATION_SECS, "{text:?} gave {secs}s");
                prop_assert_eq!(Ttl::parse(&t.to_string()).unwrap(), t);
            }
            Err(e) => prop_assert!(!e.why.is_empty()),
        }
    }

    /// A number and a unit are accepted exactly when their product, computed without overflow, is in range.
    #[test]
    fn a_number_and_a_unit_are_accepted_exactly_when_in_range(n in prop_oneof![0u64..1000, 0u64..10_000_000_000, any::<u64>()],
                                                             unit in prop::sample::select(vec![("s", 1u128), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800)])) {
        let secs = n as u128 * unit.1;
        let accepted = Ttl::parse(&format!("{n}{}", unit.0));
        prop_assert_eq!(accepted.is_ok(), n > 0 && secs <= MAX_DURATION_SECS as u128);
        if let Ok(t) = accepted {
            prop_assert_eq!(t.as_duration().as_secs() as u128, secs);
        }
    }

    /// Whatever timeout a stored run carries and whenever the watchdog looks, reconciling never panics.
    #[test]
    fn the_watchdog_never_panics_on_a_stored_timeout(timeout in any::<u64>(), later in any::<i64>()) {
        let run = running_run_with_timeout(timeout);
        let f = StepName::parse("foundation").unwrap();
        let obs = BTreeMap::from([(f, (JobObservation::Running, None))]);
        let at = DateTime::<Utc>::from_timestamp(later % 200_000_000_000, 0).unwrap_or(now());
        let _ = engine::reconcile(&run, at, &obs, WatchdogPolicy::default());
    }
}
