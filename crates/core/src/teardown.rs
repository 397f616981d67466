//! Layers that own resources outside their environment's resource groups (issue 10, finding 2): a step declaring
//! `teardown: terraform` (DNS records at Cloudflare) leaves resources that deleting the groups does not remove, and
//! whose Terraform state goes with the environment. Before the groups are deleted (the sweep, `close`, `destroy`),
//! those layers are destroyed by a teardown run: one `terraform destroy` step per layer, run as a job like any
//! step, its variables rendered from the build that applied it. The groups go only once that run succeeded; a
//! failed teardown keeps the groups and the state, and is tried again as a new run (the next attempt).
//!
//! Pure decisions: which layers, the teardown run, and where an environment's teardown stands.

use crate::catalog::{Action, Teardown};
use crate::names::{RunId, StepName};
use crate::reconcile::destroy_step;
use crate::run::{Run, RunStatus, Trigger};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use sha2::Digest;

/// The layers of a build that own resources outside the groups and may have created some: Terraform steps
/// declaring `teardown: terraform` that were started at least once (a failed apply may have created records), and
/// that are not themselves destroying a layer.
pub fn outside_layers(run: &Run) -> Vec<StepName> {
    run.steps
        .iter()
        .filter(|(_, s)| {
            s.def.teardown == Some(Teardown::Terraform)
                && matches!(s.def.action, Action::Terraform { .. })
                && s.teardown.is_none()
                && s.attempt > 0
        })
        .map(|(n, _)| n.clone())
        .collect()
}

/// The build the outside layers are destroyed from: the first of `builds` (newest first: the environment's last
/// run, then its last successful one) that has any. None when no build has one: nothing outside the groups.
pub fn source<'a>(builds: &[&'a Run]) -> Option<&'a Run> {
    builds
        .iter()
        .copied()
        .find(|b| !b.trigger.is_teardown() && !outside_layers(b).is_empty())
}

/// The key of a teardown run's id: the same build and attempt always give the same run.
pub fn run_key(of: &RunId, attempt: u32) -> String {
    let digest = sha2::Sha256::digest(of.as_str().as_bytes());
    let short: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("teardown-{short}-{attempt}")
}

/// The run that destroys the outside layers `build` left (see [`source`]): one destroy step per layer, dependents
/// first, as the build defined and rendered them. None when the build has no such layer.
pub fn teardown_run(
    build: &Run,
    attempt: u32,
    reason: &str,
    requested_by: &str,
    now: DateTime<Utc>,
) -> Option<Run> {
    let layers = outside_layers(build);
    if layers.is_empty() {
        return None;
    }
    let mut steps = IndexMap::new();
    for name in &layers {
        let old = &build.steps[name];
        let needs = layers
            .iter()
            .filter(|other| build.steps[*other].def.needs.contains(name))
            .cloned()
            .collect();
        let why = format!(
            "owns resources outside the resource groups: destroyed before they are deleted ({reason})"
        );
        steps.insert(name.clone(), destroy_step(build, old, needs, why));
    }
    Some(Run {
        id: RunId::new(
            &build.product,
            &build.environment,
            &run_key(&build.id, attempt),
        ),
        product: build.product.clone(),
        environment: build.environment.clone(),
        catalog_environment: build.catalog_environment.clone(),
        kind: build.kind,
        trigger: Trigger::Teardown {
            of: build.id.clone(),
            attempt,
            reason: reason.to_string(),
            requested_by: requested_by.to_string(),
        },
        created_at: now,
        expires_at: build.expires_at,
        status: RunStatus::Running,
        finished_at: None,
        reason: None,
        tags: build.tags.clone(),
        context: build.context.clone(),
        steps,
        journal: Vec::new(),
        // The build's own cap on jobs at once holds for its teardown too.
        max_parallel: build.max_parallel,
    })
}

/// The teardown an environment's pending deletion recorded: its run, the build it destroys from, its attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub run: RunId,
    pub of: RunId,
    pub attempt: u32,
}

/// Where the outside layers of an environment stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Nothing outside the groups (no such layer, or their teardown succeeded): the groups may be deleted.
    Gone,
    /// A teardown run is destroying them: the groups and the state wait.
    Destroying(RunId),
    /// The teardown is to start (or to start again) as this attempt; `failed` says why the last one failed.
    Start {
        attempt: u32,
        failed: Option<String>,
    },
}

/// Decides from the build the layers would be destroyed from (`None`: there is none), the teardown recorded for
/// the environment, and that teardown's run as stored (`None`: not written yet, or lost).
pub fn progress(of: Option<&RunId>, recorded: Option<&Recorded>, run: Option<&Run>) -> Progress {
    let Some(of) = of else {
        return Progress::Gone;
    };
    let Some(rec) = recorded.filter(|r| &r.of == of) else {
        return Progress::Start {
            attempt: 1,
            failed: None,
        };
    };
    match run.filter(|r| r.id == rec.run) {
        // Recorded, then the process died before the run was created: the same attempt, the same run.
        None => Progress::Start {
            attempt: rec.attempt,
            failed: None,
        },
        Some(r) => match r.status {
            RunStatus::Succeeded => Progress::Gone,
            RunStatus::Running | RunStatus::Waiting => Progress::Destroying(r.id.clone()),
            RunStatus::Failed => Progress::Start {
                attempt: rec.attempt + 1,
                failed: Some(failure(r)),
            },
        },
    }
}

/// Why a teardown run failed: its failed steps' reasons (the destroy's own words), else the run's.
fn failure(run: &Run) -> String {
    let steps: Vec<String> = run
        .steps
        .iter()
        .filter(|(_, s)| s.status == crate::run::StepStatus::Failed)
        .map(|(n, s)| format!("{n}: {}", s.reason.as_deref().unwrap_or("failed")))
        .collect();
    match (steps.is_empty(), &run.reason) {
        (false, _) => steps.join("; "),
        (true, Some(why)) => why.clone(),
        (true, None) => format!("run {} failed", run.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::names::EnvironmentName;
    use crate::planner::{plan, PlanRequest};
    use crate::run::StepStatus;
    use chrono::TimeZone;
    use serde_json::json;

    const SHOP: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  foundation: { terraform: { stack: tf/foundation } }
  app: { needs: [foundation], terraform: { stack: tf/app } }
  dns:
    needs: [app]
    teardown: terraform
    terraform: { stack: tf/dns, vars: { host: "${app.host}", literal: "$${not-a-template}" } }
  cdn:
    needs: [dns]
    teardown: terraform
    terraform: { stack: tf/cdn }
  smoke: { needs: [cdn], smoke: { command: [true] } }
environments:
  pr: { kind: pull-request }
"#;

    fn s(n: &str) -> StepName {
        StepName::parse(n).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 3, 0, 0).unwrap()
    }

    /// pr-1 built: every step started once and succeeded, `app` gave its host.
    fn built() -> Run {
        let c = Catalog::parse_files(&[("c.yaml".into(), SHOP.into())]).unwrap();
        let mut run = plan(PlanRequest {
            product: &c.products[0],
            environment: &EnvironmentName::parse("pr-1").unwrap(),
            trigger: Trigger::Release {
                version: "1.0.0".into(),
                requested_by: "ci".into(),
                message_id: "m1".into(),
                commit_time: None,
            },
            ttl: None,
            instance: "nightshift",
            now: now(),
        })
        .unwrap();
        for (name, st) in run.steps.iter_mut() {
            st.status = StepStatus::Succeeded;
            st.attempt = 1;
            if name.as_str() == "app" {
                st.outputs = serde_json::from_value(json!({"host": "app.pr-1.local"})).unwrap();
            }
        }
        run.status = RunStatus::Succeeded;
        run
    }

    #[test]
    fn the_outside_layers_are_the_terraform_steps_declaring_teardown_that_ever_started() {
        let mut run = built();
        assert_eq!(outside_layers(&run), vec![s("dns"), s("cdn")]);
        run.steps.get_mut(&s("cdn")).unwrap().attempt = 0;
        assert_eq!(
            outside_layers(&run),
            vec![s("dns")],
            "never started: nothing to destroy"
        );
        run.steps.get_mut(&s("dns")).unwrap().status = StepStatus::Failed;
        assert_eq!(
            outside_layers(&run),
            vec![s("dns")],
            "a failed apply may have created records"
        );
    }

    #[test]
    fn the_teardown_run_destroys_each_outside_layer_dependents_first_with_its_variables_rendered_from_the_build(
    ) {
        let build = built();

        let run = teardown_run(&build, 1, "expired", "the expiry sweep", now()).unwrap();

        assert_eq!(
            run.steps.keys().cloned().collect::<Vec<_>>(),
            vec![s("dns"), s("cdn")]
        );
        let dns = &run.steps[&s("dns")];
        assert_eq!(dns.teardown.as_ref(), Some(&build.id));
        assert_eq!(
            dns.def.needs,
            vec![s("cdn")],
            "cdn needs dns: it goes first"
        );
        assert!(run.steps[&s("cdn")].def.needs.is_empty());
        match &dns.def.action {
            Action::Terraform { vars, .. } => {
                assert_eq!(vars["host"], json!("app.pr-1.local"));
                assert_eq!(vars["literal"], json!("$${not-a-template}"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(run.tags, build.tags);
        assert!(run.trigger.is_teardown());
        assert_eq!(
            run.id,
            teardown_run(&build, 1, "other words", "someone", now())
                .unwrap()
                .id,
            "the same build and attempt give the same run"
        );
        assert_ne!(
            run.id,
            teardown_run(&build, 2, "expired", "the expiry sweep", now())
                .unwrap()
                .id
        );
        assert!(RunId::parse(run.id.as_str()).is_ok());
    }

    #[test]
    fn a_build_without_outside_layers_needs_no_teardown_run_and_the_newest_build_with_some_is_the_source(
    ) {
        let mut lean = built();
        for st in lean.steps.values_mut() {
            st.def.teardown = None;
        }
        assert!(teardown_run(&lean, 1, "expired", "sweep", now()).is_none());
        let full = built();
        assert_eq!(source(&[&lean, &full]).map(|r| &r.id), Some(&full.id));
        assert!(source(&[&lean]).is_none());
    }

    #[test]
    fn progress_starts_waits_finishes_and_retries_a_failed_teardown_as_the_next_attempt() {
        let build = built();
        let mut run = teardown_run(&build, 1, "expired", "sweep", now()).unwrap();
        let rec = Recorded {
            run: run.id.clone(),
            of: build.id.clone(),
            attempt: 1,
        };
        assert_eq!(
            progress(None, None, None),
            Progress::Gone,
            "no outside layer"
        );
        let start = |attempt, failed: Option<&str>| Progress::Start {
            attempt,
            failed: failed.map(str::to_string),
        };
        assert_eq!(progress(Some(&build.id), None, None), start(1, None));
        assert_eq!(
            progress(Some(&build.id), Some(&rec), None),
            start(1, None),
            "recorded but never created: the same run again"
        );
        assert_eq!(
            progress(Some(&build.id), Some(&rec), Some(&run)),
            Progress::Destroying(run.id.clone())
        );
        run.status = RunStatus::Failed;
        run.reason = Some("failed steps: dns".into());
        let dns = run.steps.get_mut(&s("dns")).unwrap();
        dns.status = StepStatus::Failed;
        dns.reason = Some("terraform destroy exited 1".into());
        assert_eq!(
            progress(Some(&build.id), Some(&rec), Some(&run)),
            start(2, Some("dns: terraform destroy exited 1"))
        );
        run.status = RunStatus::Succeeded;
        assert_eq!(
            progress(Some(&build.id), Some(&rec), Some(&run)),
            Progress::Gone
        );
        let mut newer = build.clone();
        newer.id = RunId::parse("shop.pr-1.r2").unwrap();
        assert_eq!(
            progress(Some(&newer.id), Some(&rec), Some(&run)),
            start(1, None),
            "a teardown of an older build says nothing of a newer one"
        );
    }
}
