//! The planner: a catalog entry and a trigger become a run with a DAG of steps.

use crate::catalog::{Action, DataTier, EnvironmentDef, EnvironmentKind, Product, StepDef};
use crate::expiry::tags;
use crate::names::{EnvironmentName, RunId, StepName, Ttl};
use crate::run::{JournalEntry, Run, RunStatus, StepRun, StepStatus, Trigger};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use sha2::Digest;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("environment {environment:?} is not in product {product:?} (accepted names: {known})")]
    UnknownEnvironment {
        product: String,
        environment: String,
        known: String,
    },
    #[error(
        "{entry:?} is the pull-request catalog entry of product {product:?}, not an environment: name the pull request's environment {entry}-<suffix>, e.g. {entry}-42"
    )]
    BarePullRequest { product: String, entry: String },
    #[error("ttl {ttl} is longer than the {max} this environment allows")]
    TtlTooLong { ttl: Ttl, max: Ttl },
    #[error("environment {0:?} is persistent: it takes no ttl")]
    TtlOnPersistent(String),
    #[error("a lifetime of {0} from now is past the end of the calendar")]
    ExpiryOutOfRange(Ttl),
}

/// Everything that decides a run's shape.
pub struct PlanRequest<'a> {
    pub product: &'a Product,
    pub environment: &'a EnvironmentName,
    pub trigger: Trigger,
    pub ttl: Option<Ttl>,
    pub instance: &'a str,
    pub now: DateTime<Utc>,
}

/// The run id a trigger gives: the same trigger always gives the same id, which makes starting a run idempotent.
pub fn run_id(req: &PlanRequest<'_>) -> RunId {
    let key = match &req.trigger {
        Trigger::Nightly { night, rebuild: 0 } => format!("n{}", night.format("%Y%m%d")),
        // A later build of the same night has an id of its own: the destroyed one stays in history.
        Trigger::Nightly { night, rebuild } => {
            format!("n{}-{}", night.format("%Y%m%d"), rebuild + 1)
        }
        Trigger::Release {
            version,
            message_id,
            ..
        } => {
            // The whole message id counts (pipelines often give ids with a common prefix); a short digest keeps
            // the run id readable.
            let digest = sha2::Sha256::digest(message_id.as_bytes());
            let short: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
            format!("r{version}-{short}")
        }
        // One rollback per failed run, whoever notices the failure first.
        Trigger::Rollback {
            version,
            failed_run,
            ..
        } => {
            let digest = sha2::Sha256::digest(failed_run.as_str().as_bytes());
            let short: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
            format!("rollback{version}-{short}")
        }
        Trigger::Teardown { of, attempt, .. } => crate::teardown::run_key(of, *attempt),
    };
    RunId::new(
        &req.product.name,
        req.environment,
        &key[..key.len().min(64)],
    )
}

/// Which build of its night a nightly run id is (0 for the first), given the night's first run id; None when it
/// is not a run of that night.
pub fn nightly_rebuild_of(run: &str, first: &RunId) -> Option<u32> {
    let rest = run.strip_prefix(first.as_str())?;
    if rest.is_empty() {
        return Some(0);
    }
    let n: u32 = rest.strip_prefix('-')?.parse().ok()?;
    n.checked_sub(1).filter(|r| *r > 0)
}

/// The catalog entry of a concrete environment name: an exact nightly or persistent entry, or `<entry>-<suffix>`
/// for a pull-request entry. The bare pull-request entry (`pr`) is not an environment.
pub fn environment<'p>(
    product: &'p Product,
    name: &EnvironmentName,
) -> Result<&'p EnvironmentDef, PlanError> {
    match product.resolve_environment(name) {
        Some(def) if def.kind == EnvironmentKind::PullRequest && &def.name == name => {
            Err(PlanError::BarePullRequest {
                product: product.name.to_string(),
                entry: def.name.to_string(),
            })
        }
        Some(def) => Ok(def),
        None => Err(PlanError::UnknownEnvironment {
            product: product.name.to_string(),
            environment: name.to_string(),
            known: product
                .environments
                .values()
                .map(|e| match e.kind {
                    EnvironmentKind::PullRequest => {
                        format!("{}-<suffix> (e.g. {}-42)", e.name, e.name)
                    }
                    _ => e.name.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

pub fn plan(req: PlanRequest<'_>) -> Result<Run, PlanError> {
    let product = req.product;
    let env: &EnvironmentDef = environment(product, req.environment)?;
    let lifetime = match (env.kind, req.ttl) {
        (EnvironmentKind::Persistent, Some(_)) => {
            return Err(PlanError::TtlOnPersistent(req.environment.to_string()))
        }
        (EnvironmentKind::Persistent, None) => None,
        (_, Some(ttl)) => {
            if let Some(max) = env.max_lifetime {
                if ttl > max {
                    return Err(PlanError::TtlTooLong { ttl, max });
                }
            }
            Some(ttl)
        }
        (_, None) => env.lifetime,
    };
    // Checked: `now + lifetime` must not panic whatever the clock and the catalog say.
    let expires_at = lifetime
        .map(|l| {
            req.now
                .checked_add_signed(l.as_chrono())
                .ok_or(PlanError::ExpiryOutOfRange(l))
        })
        .transpose()?;
    let id = run_id(&req);
    let tags = tags::for_environment(
        req.instance,
        &product.name,
        req.environment,
        &id,
        env.kind,
        expires_at,
    );

    let mut context = BTreeMap::new();
    context.insert("env.name".to_string(), req.environment.to_string());
    context.insert("env.kind".to_string(), env.kind.as_str().to_string());
    context.insert("product.name".to_string(), product.name.to_string());
    context.insert("run.id".to_string(), id.to_string());
    context.insert(
        "release.version".to_string(),
        req.trigger.version().to_string(),
    );
    for (k, v) in &env.vars {
        context.insert(format!("env.vars.{k}"), v.clone());
    }

    let steps: IndexMap<StepName, StepRun> = product
        .steps
        .iter()
        .map(|(name, def)| {
            let tiers = effective_tiers(def, env.kind);
            let skipped = matches!(def.action, Action::Ansible { .. }) && tiers.is_empty();
            let step = StepRun {
                def: def.clone(),
                tiers,
                // Skipped only when its dependencies are done (the engine does it): a skip is not a shortcut.
                status: StepStatus::Pending,
                attempt: 0,
                max_attempts: def.retries + 1,
                queued_at: None,
                not_before: None,
                started_at: None,
                finished_at: None,
                reason: None,
                outputs: BTreeMap::new(),
                attempts: Vec::new(),
                skip: skipped.then(|| "no data tier to load in this environment".to_string()),
                teardown: None,
            };
            (name.clone(), step)
        })
        .collect();

    Ok(Run {
        id,
        product: product.name.clone(),
        environment: req.environment.clone(),
        catalog_environment: env.name.clone(),
        kind: env.kind,
        trigger: req.trigger,
        created_at: req.now,
        expires_at,
        status: RunStatus::Running,
        finished_at: None,
        reason: None,
        tags,
        context,
        steps,
        journal: vec![JournalEntry {
            at: req.now,
            step: None,
            attempt: None,
            from: "none".into(),
            to: "running".into(),
            reason: Some("run planned".into()),
        }],
        max_parallel: env.max_parallel,
    })
}

/// A new run of a live environment never brings its expiry closer: a re-release, or a nightly run of an environment
/// someone extended or kept, keeps the later of its own expiry and `at_least` (tags included). Persistent runs
/// have no expiry and stay so.
pub fn carry_expiry(run: &mut Run, at_least: Option<DateTime<Utc>>) {
    if let (Some(mine), Some(floor)) = (run.expires_at, at_least) {
        if floor > mine {
            run.expires_at = Some(floor);
            run.tags
                .insert(tags::EXPIRES_AT.to_string(), tags::format_time(floor));
        }
    }
}

/// `test` data is for throw-away environments only.
pub fn effective_tiers(def: &StepDef, kind: EnvironmentKind) -> Vec<DataTier> {
    match &def.action {
        Action::Ansible { tiers, .. } => tiers
            .iter()
            .copied()
            .filter(|t| !(kind == EnvironmentKind::Persistent && *t == DataTier::Test))
            .collect(),
        _ => Vec::new(),
    }
}

/// Topological order (catalog order among independent steps).
pub fn topological_order(steps: &IndexMap<StepName, StepDef>) -> Vec<StepName> {
    let mut done: Vec<StepName> = Vec::new();
    while done.len() < steps.len() {
        let before = done.len();
        for (name, def) in steps {
            if !done.contains(name) && def.needs.iter().all(|n| done.contains(n)) {
                done.push(name.clone());
            }
        }
        if done.len() == before {
            break; // a cycle; the catalog rejects those before we get here
        }
    }
    done
}

/// The longest path through the DAG by the given step weights, and its length.
pub fn critical_path(
    steps: &IndexMap<StepName, StepDef>,
    weight: impl Fn(&StepName) -> f64,
) -> (Vec<StepName>, f64) {
    let mut best: BTreeMap<StepName, (f64, Option<StepName>)> = BTreeMap::new();
    for name in topological_order(steps) {
        let def = &steps[&name];
        let (base, via) = def
            .needs
            .iter()
            .map(|n| (best.get(n).map(|b| b.0).unwrap_or(0.0), Some(n.clone())))
            .fold((0.0, None), |acc, x| if x.0 > acc.0 { x } else { acc });
        best.insert(name.clone(), (base + weight(&name), via));
    }
    let Some((end, (total, _))) = best.iter().fold(
        None::<(&StepName, &(f64, Option<StepName>))>,
        |acc, (k, v)| match acc {
            Some((_, a)) if a.0 >= v.0 => acc,
            _ => Some((k, v)),
        },
    ) else {
        return (Vec::new(), 0.0);
    };
    let total = *total;
    let mut path = vec![end.clone()];
    let mut cur = end.clone();
    while let Some((_, Some(prev))) = best.get(&cur) {
        path.push(prev.clone());
        cur = prev.clone();
    }
    path.reverse();
    (path, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{tests::DEMO, Catalog};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn product() -> Product {
        Catalog::parse_files(&[("c.yaml".into(), DEMO.into())])
            .unwrap()
            .products[0]
            .clone()
    }

    fn req<'a>(p: &'a Product, env: &'a EnvironmentName, ttl: Option<Ttl>) -> PlanRequest<'a> {
        PlanRequest {
            product: p,
            environment: env,
            trigger: Trigger::Release {
                version: "1.4.2".into(),
                requested_by: "ci".into(),
                message_id: "abc-123".into(),
                commit_time: None,
            },
            ttl,
            instance: "nightshift",
            now: Utc.with_ymd_and_hms(2026, 11, 21, 1, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_pull_request_run_expires_after_its_lifetime_and_carries_the_sweep_tags() {
        let p = product();
        let env = EnvironmentName::parse("pr-123").unwrap();
        let run = plan(req(&p, &env, None)).unwrap();
        assert_eq!(run.catalog_environment.as_str(), "pr");
        assert_eq!(
            run.expires_at.unwrap().to_rfc3339(),
            "2026-11-28T01:00:00+00:00"
        );
        assert_eq!(run.tags["nightshift-expires-at"], "2026-11-28T01:00:00Z");
        assert_eq!(run.tags["nightshift-managed-by"], "nightshift");
        assert_eq!(run.tags["nightshift-environment"], "pr-123");
        assert!(
            run.id.as_str().starts_with("shop.pr-123.r1-4-2-"),
            "{}",
            run.id
        );
    }

    #[test]
    fn a_later_build_of_the_same_night_gets_its_own_run_id_and_says_which_build_it_is() {
        let p = product();
        let env = EnvironmentName::parse("nightly").unwrap();
        let night = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        let id = |rebuild| {
            let mut r = req(&p, &env, None);
            r.trigger = Trigger::Nightly { night, rebuild };
            run_id(&r)
        };
        let (first, second) = (id(0), id(1));
        assert_eq!(first.as_str(), "shop.nightly.n20261121");
        assert_eq!(second.as_str(), "shop.nightly.n20261121-2");
        assert_eq!(nightly_rebuild_of(first.as_str(), &first), Some(0));
        assert_eq!(nightly_rebuild_of(second.as_str(), &first), Some(1));
        assert_eq!(nightly_rebuild_of(id(4).as_str(), &first), Some(4));
        assert_eq!(nightly_rebuild_of("shop.nightly.n20261122", &first), None);
        assert_eq!(nightly_rebuild_of("shop.nightly.n20261121-x", &first), None);
        // Documents written before the field existed read as the first build.
        let old: Trigger =
            serde_json::from_str(r#"{"type":"nightly","night":"2026-11-21"}"#).unwrap();
        assert_eq!(old, Trigger::Nightly { night, rebuild: 0 });
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"type":"nightly","night":"2026-11-21"}"#
        );
    }

    #[test]
    fn release_run_ids_differ_for_message_ids_that_share_a_prefix() {
        let p = product();
        let env = EnvironmentName::parse("pr-1").unwrap();
        let id = |m: &str| {
            let mut r = req(&p, &env, None);
            r.trigger = Trigger::Release {
                version: "1.0".into(),
                requested_by: "ci".into(),
                message_id: m.into(),
                commit_time: None,
            };
            run_id(&r)
        };
        assert_ne!(id("release-pipeline-0001"), id("release-pipeline-0002"));
        assert_eq!(id("release-pipeline-0001"), id("release-pipeline-0001"));
    }

    #[test]
    fn a_persistent_run_has_no_expiry_and_loads_no_test_data() {
        let p = product();
        let env = EnvironmentName::parse("main").unwrap();
        let run = plan(req(&p, &env, None)).unwrap();
        assert_eq!(run.expires_at, None);
        assert!(!run.tags.contains_key("nightshift-expires-at"));
        let seed = &run.steps[&StepName::parse("seed").unwrap()];
        assert_eq!(seed.tiers, vec![DataTier::Reference]);
        assert!(matches!(
            plan(req(&p, &env, Some(Ttl::parse("1d").unwrap()))),
            Err(PlanError::TtlOnPersistent(_))
        ));
    }

    #[test]
    fn a_ttl_is_capped_by_the_environment() {
        let p = product();
        let env = EnvironmentName::parse("pr-1").unwrap();
        let run = plan(req(&p, &env, Some(Ttl::parse("3d").unwrap()))).unwrap();
        assert_eq!(
            run.expires_at.unwrap().to_rfc3339(),
            "2026-11-24T01:00:00+00:00"
        );
        assert!(matches!(
            plan(req(&p, &env, Some(Ttl::parse("40d").unwrap()))),
            Err(PlanError::TtlTooLong { .. })
        ));
    }

    #[test]
    fn an_unknown_environment_lists_the_catalog_entries() {
        let p = product();
        let env = EnvironmentName::parse("staging").unwrap();
        let e = plan(req(&p, &env, None)).unwrap_err();
        assert!(
            e.to_string()
                .contains("accepted names: nightly, pr-<suffix> (e.g. pr-42), main"),
            "{e}"
        );
    }

    #[test]
    fn a_re_release_pushes_the_expiry_out_and_never_brings_it_closer() {
        let p = product();
        let env = EnvironmentName::parse("pr-1").unwrap();
        let mut run = plan(req(&p, &env, None)).unwrap();
        let planned = run.expires_at.unwrap();
        carry_expiry(&mut run, Some(planned - chrono::Duration::days(1)));
        assert_eq!(
            run.expires_at,
            Some(planned),
            "an earlier expiry does not shorten"
        );
        let later = planned + chrono::Duration::days(3);
        carry_expiry(&mut run, Some(later));
        assert_eq!(run.expires_at, Some(later));
        assert_eq!(run.tags["nightshift-expires-at"], tags::format_time(later));
        let main = EnvironmentName::parse("main").unwrap();
        let mut persistent = plan(req(&p, &main, None)).unwrap();
        carry_expiry(&mut persistent, Some(later));
        assert_eq!(persistent.expires_at, None);
    }

    #[test]
    fn a_rollback_run_id_derives_from_the_failed_run() {
        let p = product();
        let env = EnvironmentName::parse("main").unwrap();
        let rollback = |failed: &str| {
            let mut r = req(&p, &env, None);
            r.trigger = Trigger::Rollback {
                version: "1.4.1".into(),
                failed_run: RunId::parse(failed).unwrap(),
                requested_by: "nightshift (on_failure: rollback)".into(),
            };
            run_id(&r)
        };
        assert_eq!(
            rollback("shop.main.r1-4-2-aa"),
            rollback("shop.main.r1-4-2-aa")
        );
        assert_ne!(
            rollback("shop.main.r1-4-2-aa"),
            rollback("shop.main.r1-4-3-bb")
        );
        assert!(rollback("shop.main.r1-4-2-aa")
            .as_str()
            .starts_with("shop.main.rollback1-4-1-"));
    }

    #[test]
    fn a_release_to_the_bare_pull_request_entry_is_refused_saying_to_add_a_suffix() {
        let p = product();
        let env = EnvironmentName::parse("pr").unwrap();
        let e = plan(req(&p, &env, None)).unwrap_err();
        assert!(matches!(e, PlanError::BarePullRequest { .. }));
        assert!(e.to_string().contains("pr-<suffix>"), "{e}");
    }

    #[test]
    fn the_critical_path_follows_the_heaviest_chain() {
        let p = product();
        let w = |s: &StepName| match s.as_str() {
            "app" => 10.0,
            _ => 1.0,
        };
        let (path, total) = critical_path(&p.steps, w);
        let names: Vec<&str> = path.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, vec!["foundation", "app", "smoke"]);
        assert_eq!(total, 12.0);
    }

    proptest! {
        /// For any DAG, the topological order puts every step after its needs, and the critical path is a chain
        /// of dependencies no shorter than any single step.
        #[test]
        fn topological_order_respects_needs(edges in proptest::collection::vec((0usize..12, 0usize..12), 0..40),
                                            weights in proptest::collection::vec(1u32..50, 12)) {
            let names: Vec<StepName> = (0..12).map(|i| StepName::parse(&format!("s{i}")).unwrap()).collect();
            let mut steps = IndexMap::new();
            for (i, n) in names.iter().enumerate() {
                let needs: Vec<StepName> = edges.iter().filter(|(a, b)| *a == i && b < a).map(|(_, b)| names[*b].clone()).collect();
                let mut def = product().steps[0].clone();
                def.name = n.clone();
                def.needs = needs;
                steps.insert(n.clone(), def);
            }
            let order = topological_order(&steps);
            prop_assert_eq!(order.len(), 12);
            for (i, n) in order.iter().enumerate() {
                for d in &steps[n].needs {
                    prop_assert!(order[..i].contains(d));
                }
            }
            let w = |s: &StepName| weights[s.as_str()[1..].parse::<usize>().unwrap()] as f64;
            let (path, total) = critical_path(&steps, w);
            for pair in path.windows(2) {
                prop_assert!(steps[&pair[1]].needs.contains(&pair[0]));
            }
            prop_assert!(total >= *weights.iter().max().unwrap() as f64);
        }
    }
}
