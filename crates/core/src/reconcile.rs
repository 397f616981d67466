//! A catalog change reconciles (issue 7, item 5): a Terraform layer that the environment's last successful run built
//! and the new plan lacks (removed from the catalog) is destroyed by the new run, before the environment is reported
//! ready. The new run gets a teardown step per removed layer, carrying the old definition as the previous run
//! document kept it, with its variables rendered from that run's context and outputs (the upstream steps they name
//! may be gone too). Teardowns run dependents first: a removed layer is destroyed after the removed layers that
//! needed it.

use crate::catalog::Action;
use crate::names::StepName;
use crate::run::{Run, StepRun, StepStatus};
use crate::template::{self, Context};
use std::collections::BTreeMap;

/// Adds a teardown step to `run` for every Terraform layer `previous` applied and `run` lacks; returns their names.
pub fn add_removed_layers(run: &mut Run, previous: &Run) -> Vec<StepName> {
    let removed: Vec<(&StepName, &StepRun)> = previous
        .steps
        .iter()
        .filter(|(name, s)| {
            matches!(s.def.action, Action::Terraform { .. })
                && s.status == StepStatus::Succeeded
                && s.teardown.is_none()
                && !run.steps.contains_key(*name)
        })
        .collect();
    let mut added = Vec::new();
    for (name, old) in &removed {
        let needs = removed
            .iter()
            .filter(|(_, other)| other.def.needs.contains(name))
            .map(|(n, _)| (*n).clone())
            .collect();
        let reason = format!(
            "removed from the catalog: destroys the layer run {} built",
            previous.id
        );
        run.steps
            .insert((*name).clone(), destroy_step(previous, old, needs, reason));
        added.push((*name).clone());
    }
    added
}

/// A step that destroys the layer `old` of `previous` (`terraform destroy`, then its state goes), after `needs`:
/// its definition as `previous` kept it, its variables rendered from that run's context and outputs.
pub(crate) fn destroy_step(
    previous: &Run,
    old: &StepRun,
    needs: Vec<StepName>,
    reason: String,
) -> StepRun {
    let ctx = Context {
        values: previous.context.clone(),
        outputs: previous.outputs(),
    };
    let mut def = old.def.clone();
    if let Action::Terraform { vars, .. } = &mut def.action {
        // Rendered now, from the run that built the layer; a value that no longer renders is passed as written
        // (the destroy then says which variable is wrong rather than nothing being destroyed).
        *vars = vars
            .iter()
            .map(|(k, v)| {
                let rendered = template::render_value(v, &ctx).unwrap_or_else(|_| v.clone());
                (k.clone(), escape(rendered))
            })
            .collect::<BTreeMap<_, _>>();
    }
    def.needs = needs;
    StepRun {
        tiers: Vec::new(),
        status: StepStatus::Pending,
        attempt: 0,
        max_attempts: def.retries + 1,
        queued_at: None,
        not_before: None,
        started_at: None,
        finished_at: None,
        reason: Some(reason),
        outputs: BTreeMap::new(),
        attempts: Vec::new(),
        skip: None,
        teardown: Some(previous.id.clone()),
        def,
    }
}

/// A rendered value goes through the runner's rendering once more: a literal `${` in it must stay literal.
fn escape(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(s.replace("${", "$${")),
        Value::Array(a) => Value::Array(a.into_iter().map(escape).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, escape(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::engine::{apply, Command, Event};
    use crate::names::EnvironmentName;
    use crate::planner::{plan, PlanRequest};
    use crate::run::{RunStatus, Trigger};
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    const FULL: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  foundation: { terraform: { stack: tf/foundation } }
  cache:
    needs: [foundation]
    terraform: { stack: tf/cache, vars: { rg: "${foundation.rg}", literal: "$${not-a-template}" } }
  cache-dns:
    needs: [cache]
    terraform: { stack: tf/cache-dns, vars: { host: "${cache.host}" } }
  smoke: { needs: [foundation], smoke: { command: [true] } }
environments:
  pr: { kind: pull-request }
"#;

    fn run_of(catalog: &str, version: &str) -> Run {
        let c = Catalog::parse_files(&[("c.yaml".into(), catalog.into())]).unwrap();
        plan(PlanRequest {
            product: &c.products[0],
            environment: &EnvironmentName::parse("pr-1").unwrap(),
            trigger: Trigger::Release {
                version: version.into(),
                requested_by: "ci".into(),
                message_id: version.into(),
                commit_time: None,
            },
            ttl: None,
            instance: "nightshift",
            now: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
        })
        .unwrap()
    }

    fn succeeded(mut run: Run) -> Run {
        for (name, s) in run.steps.iter_mut() {
            s.status = StepStatus::Succeeded;
            let outputs = match name.as_str() {
                "foundation" => json!({"rg": "rg-shop-pr-1"}),
                "cache" => json!({"host": "cache.local"}),
                _ => json!({}),
            };
            s.outputs = serde_json::from_value(outputs).unwrap();
        }
        run.status = RunStatus::Succeeded;
        run
    }

    fn s(n: &str) -> StepName {
        StepName::parse(n).unwrap()
    }

    #[test]
    fn a_layer_removed_from_the_catalog_becomes_a_teardown_with_the_old_definition_rendered_from_the_old_run(
    ) {
        let previous = succeeded(run_of(FULL, "1.0.0"));
        let lean = FULL
            .split("  cache:")
            .next()
            .unwrap()
            .to_string()
            + "  smoke: { needs: [foundation], smoke: { command: [true] } }\nenvironments:\n  pr: { kind: pull-request }\n";
        let mut run = run_of(&lean, "1.1.0");

        let added = add_removed_layers(&mut run, &previous);

        assert_eq!(added, vec![s("cache"), s("cache-dns")]);
        let cache = &run.steps[&s("cache")];
        assert_eq!(cache.teardown.as_ref(), Some(&previous.id));
        assert_eq!(
            cache.def.needs,
            vec![s("cache-dns")],
            "dependents are torn down first"
        );
        match &cache.def.action {
            Action::Terraform { stack, vars } => {
                assert_eq!(stack, "tf/cache");
                assert_eq!(vars["rg"], json!("rg-shop-pr-1"));
                assert_eq!(
                    vars["literal"],
                    json!("$${not-a-template}"),
                    "stays literal"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(run.steps[&s("cache-dns")].def.needs.is_empty());
        assert!(!run.steps.contains_key(&s("smoke")) || run.steps[&s("smoke")].teardown.is_none());
    }

    #[test]
    fn nothing_is_torn_down_when_the_catalog_kept_every_layer_or_a_layer_never_succeeded() {
        let previous = succeeded(run_of(FULL, "1.0.0"));
        let mut same = run_of(FULL, "1.1.0");
        assert!(add_removed_layers(&mut same, &previous).is_empty());

        let mut failed = previous.clone();
        failed.steps.get_mut(&s("cache-dns")).unwrap().status = StepStatus::Failed;
        let lean = FULL.replace(
            "  cache-dns:\n    needs: [cache]\n    terraform: { stack: tf/cache-dns, vars: { host: \"${cache.host}\" } }\n",
            "",
        );
        let mut run = run_of(&lean, "1.1.0");
        assert!(add_removed_layers(&mut run, &failed).is_empty());
        // A teardown that succeeded is not a layer to tear down again.
        let mut next = run_of(&lean, "1.2.0");
        let mut with_teardown = succeeded(run_of(&lean, "1.1.0"));
        add_removed_layers(&mut with_teardown, &previous);
        let with_teardown = succeeded(with_teardown);
        assert!(add_removed_layers(&mut next, &with_teardown).is_empty());
    }

    #[test]
    fn the_run_is_not_ready_before_its_teardowns_succeeded() {
        let previous = succeeded(run_of(FULL, "1.0.0"));
        let lean = FULL.replace(
            "  cache-dns:\n    needs: [cache]\n    terraform: { stack: tf/cache-dns, vars: { host: \"${cache.host}\" } }\n",
            "",
        );
        let mut run = run_of(&lean, "1.1.0");
        add_removed_layers(&mut run, &previous);
        let mut o = apply(&run, &Event::Start, Utc::now());
        let queued = |cmds: &[Command]| -> Vec<String> {
            cmds.iter()
                .filter_map(|c| match c {
                    Command::Dispatch(m) => Some(m.step.to_string()),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(queued(&o.commands), vec!["foundation", "cache-dns"]);
        for step in ["foundation", "cache", "smoke"] {
            let st = s(step);
            o = apply(
                &o.run,
                &Event::StepSucceeded {
                    step: st.clone(),
                    attempt: 1,
                    outputs: BTreeMap::new(),
                },
                Utc::now(),
            );
        }
        assert_eq!(
            o.run.status,
            RunStatus::Running,
            "the teardown is still to do"
        );
        o = apply(
            &o.run,
            &Event::StepSucceeded {
                step: s("cache-dns"),
                attempt: 1,
                outputs: BTreeMap::new(),
            },
            Utc::now(),
        );
        assert_eq!(o.run.status, RunStatus::Succeeded);
    }
}
