//! The lifecycle decisions for an environment that exists: whether an action may apply to it, and where extending or
//! keeping moves its expiry. Pure: the use case reads the environment, asks here, and writes what comes back.
//!
//! The expiry is the one thing the sweep reads, so extending and keeping both move it (the tag and the record):
//! `keep` pins the environment by moving the expiry to `kept_until` when that is later, which the sweep's existing
//! decision already respects. Caps are `max_lifetime` counted from now, the same cap a release's `ttl` has.

use crate::catalog::{EnvironmentDef, EnvironmentKind, FailurePolicy};
use crate::expiry::tags::format_time;
use crate::messages::{Extension, Rejection, ReleaseAction};
use crate::names::Ttl;
use chrono::{DateTime, Utc};

/// Close, destroy and extend apply to throw-away environments only; keep too (a persistent one is never swept).
pub fn check_applies(
    def: &EnvironmentDef,
    env: &str,
    action: ReleaseAction,
) -> Result<(), Rejection> {
    if def.kind == EnvironmentKind::Persistent && action != ReleaseAction::Deploy {
        let what = match action {
            ReleaseAction::Keep => "it is never swept, so there is nothing to keep",
            ReleaseAction::Extend => "it has no expiry to extend",
            _ => "nightshift never destroys one: tear it down by hand if you mean it",
        };
        return Err(Rejection::new(format!(
            "{env} is a persistent environment: {} is refused ({what})",
            action.as_str()
        )));
    }
    Ok(())
}

fn cap(
    def: &EnvironmentDef,
    env: &str,
    target: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), Rejection> {
    match def.max_lifetime {
        Some(max) if target > now + max.as_chrono() => Err(Rejection::new(format!(
            "{env} would expire at {}, past its max_lifetime of {max} (catalog entry {}): the latest allowed now is {}",
            format_time(target),
            def.name,
            format_time(now + max.as_chrono())
        ))),
        _ => Ok(()),
    }
}

/// The expiry after an extension: later than the current one, within the cap.
pub fn extend(
    def: &EnvironmentDef,
    env: &str,
    current: DateTime<Utc>,
    by: Extension,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Rejection> {
    let target = match by {
        // From the current expiry, or from now if it already passed (a kept or late-swept environment).
        Extension::By(d) => current.max(now) + d.as_chrono(),
        Extension::Until(t) => t,
    };
    if target <= current {
        return Err(Rejection::new(format!(
            "{env} already expires at {}; extending to {} would bring it closer: extend never shortens (destroy it instead)",
            format_time(current),
            format_time(target)
        )));
    }
    cap(def, env, target, now)?;
    Ok(target)
}

/// Keeping: the environment stays at least until `now + for`; returns `(expires_at, kept_until)`.
pub fn keep(
    def: &EnvironmentDef,
    env: &str,
    current: DateTime<Utc>,
    for_: Ttl,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Rejection> {
    let until = now + for_.as_chrono();
    cap(def, env, until, now)?;
    Ok((current.max(until), until))
}

/// `on_failure: destroy`: the expiry a failed environment gets, `grace` after the failure, or `None` when it
/// should not move (another policy, or it already expires sooner, or someone keeps it longer).
pub fn expiry_after_failure(
    policy: FailurePolicy,
    failed_at: DateTime<Utc>,
    current: Option<DateTime<Utc>>,
    kept_until: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let FailurePolicy::Destroy { grace } = policy else {
        return None;
    };
    let target = (failed_at + grace.as_chrono()).max(kept_until.unwrap_or(failed_at));
    match current {
        Some(c) if c <= target => None,
        _ => Some(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{tests::DEMO, Catalog};
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    fn env(name: &str) -> EnvironmentDef {
        let c = Catalog::parse_files(&[("c.yaml".into(), DEMO.into())]).unwrap();
        c.products[0]
            .environments
            .values()
            .find(|e| e.name.as_str() == name)
            .unwrap()
            .clone()
    }

    #[test]
    fn a_persistent_environment_refuses_every_action_but_deploy() {
        let main = env("main");
        for a in [
            ReleaseAction::Close,
            ReleaseAction::Destroy,
            ReleaseAction::Extend,
            ReleaseAction::Keep,
        ] {
            let e = check_applies(&main, "main", a).unwrap_err();
            assert!(e.reason.contains("main is a persistent environment"), "{e}");
            assert!(e.reason.contains(a.as_str()), "{e}");
        }
        assert!(check_applies(&main, "main", ReleaseAction::Deploy).is_ok());
        assert!(check_applies(&env("pr"), "pr-7", ReleaseAction::Close).is_ok());
    }

    #[test]
    fn extending_pushes_the_expiry_out_within_max_lifetime_and_says_the_cap_when_past_it() {
        let pr = env("pr");
        let current = now() + Duration::days(7);
        let by = extend(
            &pr,
            "pr-7",
            current,
            Extension::By(Ttl::parse("2d").unwrap()),
            now(),
        )
        .unwrap();
        assert_eq!(by, now() + Duration::days(9));
        let until = now() + Duration::days(20);
        assert_eq!(
            extend(&pr, "pr-7", current, Extension::Until(until), now()).unwrap(),
            until
        );
        let e = extend(
            &pr,
            "pr-7",
            current,
            Extension::By(Ttl::parse("30d").unwrap()),
            now(),
        )
        .unwrap_err();
        assert!(e.reason.contains("max_lifetime of 30d"), "{e}");
        let e = extend(
            &pr,
            "pr-7",
            current,
            Extension::Until(now() + Duration::days(1)),
            now(),
        )
        .unwrap_err();
        assert!(e.reason.contains("never shortens"), "{e}");
    }

    #[test]
    fn keeping_moves_the_expiry_to_kept_until_only_when_that_is_later() {
        let pr = env("pr");
        let soon = now() + Duration::hours(1);
        let (expires, kept) = keep(&pr, "pr-7", soon, Ttl::parse("3d").unwrap(), now()).unwrap();
        assert_eq!(
            (expires, kept),
            (now() + Duration::days(3), now() + Duration::days(3))
        );
        let late = now() + Duration::days(6);
        let (expires, _) = keep(&pr, "pr-7", late, Ttl::parse("3d").unwrap(), now()).unwrap();
        assert_eq!(expires, late, "keeping never shortens");
        assert!(keep(&pr, "pr-7", soon, Ttl::parse("31d").unwrap(), now())
            .unwrap_err()
            .reason
            .contains("30d"));
    }

    #[test]
    fn on_failure_destroy_brings_the_expiry_to_the_grace_unless_kept_or_already_sooner() {
        let policy = FailurePolicy::Destroy {
            grace: Ttl::parse("2h").unwrap(),
        };
        let week = Some(now() + Duration::days(7));
        assert_eq!(
            expiry_after_failure(policy, now(), week, None),
            Some(now() + Duration::hours(2))
        );
        assert_eq!(
            expiry_after_failure(policy, now(), Some(now() + Duration::hours(1)), None),
            None
        );
        let kept = Some(now() + Duration::days(2));
        assert_eq!(expiry_after_failure(policy, now(), week, kept), kept);
        assert_eq!(
            expiry_after_failure(FailurePolicy::Keep, now(), week, None),
            None
        );
    }
}
