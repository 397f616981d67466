//! The run document: one environment build, its steps, and its journal.
//!
//! A run is what the store holds and what `status` shows; the engine is the only code that changes it.

use crate::catalog::{DataTier, EnvironmentKind, StepDef};
use crate::names::{EnvironmentName, JobName, ProductName, RunId, StepName};
use chrono::{DateTime, NaiveDate, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Trigger {
    Nightly {
        night: NaiveDate,
        /// 0 for the night's first build; n for the n-th build of the same night after the previous one was
        /// destroyed (`nightshift up` after a sweep). Absent from documents written before it existed.
        #[serde(default, skip_serializing_if = "is_zero")]
        rebuild: u32,
    },
    Release {
        version: String,
        requested_by: String,
        message_id: String,
        /// When the released commit was made, if the pipeline said (change lead time, docs/metrics.md).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit_time: Option<DateTime<Utc>>,
    },
    /// `on_failure: rollback`: the last version that succeeded, deployed again after `failed_run` failed.
    Rollback {
        version: String,
        failed_run: RunId,
        requested_by: String,
    },
    /// Destroys, before its resource groups are deleted (the sweep, `close`, `destroy`), the layers of an
    /// environment that own resources outside its groups (`teardown: terraform`), as `of` left them. `attempt`
    /// counts the teardowns of the same build: a failed one is tried again as a new run on a later pass.
    Teardown {
        of: RunId,
        attempt: u32,
        reason: String,
        requested_by: String,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Trigger {
    pub fn version(&self) -> &str {
        match self {
            Self::Nightly { .. } => "nightly",
            Self::Release { version, .. } | Self::Rollback { version, .. } => version,
            Self::Teardown { .. } => "teardown",
        }
    }
    pub fn is_rollback(&self) -> bool {
        matches!(self, Self::Rollback { .. })
    }
    /// A run that destroys layers before the environment's groups go: not a build (no version, no metrics).
    pub fn is_teardown(&self) -> bool {
        matches!(self, Self::Teardown { .. })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// Another run of the same environment holds it: this one starts when that one finishes.
    Waiting,
    Running,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub fn is_finished(&self) -> bool {
        !matches!(self, Self::Running | Self::Waiting)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// Waiting for its dependencies.
    Pending,
    /// Sent on the `steps` queue; its job has not been seen yet.
    Queued,
    /// Its job runs.
    Running,
    /// Failed; the next attempt is scheduled for `not_before`.
    Retrying,
    Succeeded,
    Failed,
    /// Not run because a dependency failed for good.
    Cancelled,
    /// Nothing to do in this environment (a seed whose data tiers are all excluded).
    Skipped,
}

impl StepStatus {
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Cancelled | Self::Skipped
        )
    }
    pub fn satisfies_dependents(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Skipped)
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Retrying => "retrying",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub attempt: u32,
    pub job: JobName,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRun {
    pub def: StepDef,
    /// The data tiers this environment loads (Ansible steps).
    pub tiers: Vec<DataTier>,
    pub status: StepStatus,
    /// The current attempt (1-based); 0 until first queued.
    pub attempt: u32,
    pub max_attempts: u32,
    pub queued_at: Option<DateTime<Utc>>,
    pub not_before: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub outputs: BTreeMap<String, Value>,
    pub attempts: Vec<Attempt>,
    /// Nothing to do in this environment (why): the step stays pending and is marked skipped only once its own
    /// dependencies are satisfied, so its dependents wait for the whole chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
    /// A layer the catalog no longer has: this step destroys it (`terraform destroy` of the definition the run
    /// named here built, its variables rendered from that run's outputs) instead of applying it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<RunId>,
}

impl StepRun {
    pub fn job(&self, run: &RunId) -> JobName {
        JobName::for_attempt(run, &self.def.name, self.attempt.max(1))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<StepName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    pub from: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: RunId,
    pub product: ProductName,
    pub environment: EnvironmentName,
    /// The catalog entry (`pr` for `pr-123`).
    pub catalog_environment: EnvironmentName,
    pub kind: EnvironmentKind,
    pub trigger: Trigger,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub status: RunStatus,
    pub finished_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    /// The tags every resource group of this environment carries.
    pub tags: BTreeMap<String, String>,
    /// Template context values (`env.name`, `run.id`, ...).
    pub context: BTreeMap<String, String>,
    pub steps: IndexMap<StepName, StepRun>,
    pub journal: Vec<JournalEntry>,
    /// The most steps queued or running at once (the catalog's `max_parallel`); None: no per-run cap. Absent from
    /// documents written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
}

impl Run {
    pub fn step(&self, name: &StepName) -> Option<&StepRun> {
        self.steps.get(name)
    }

    /// What the job of one step needs of its run, and no more: the run's identity, tags and template context,
    /// that step, and the outputs of the steps that have some (templates read them). No journal, no attempts, no
    /// other step definitions, so its size does not grow with the number of steps: the runner reads it instead of
    /// folding the run's whole journal.
    pub fn for_step(&self, name: &StepName) -> Run {
        let steps = self
            .steps
            .iter()
            .filter(|(n, s)| *n == name || !s.outputs.is_empty())
            .map(|(n, s)| {
                let mut s = s.clone();
                s.attempts.clear();
                (n.clone(), s)
            })
            .collect();
        Run {
            id: self.id.clone(),
            product: self.product.clone(),
            environment: self.environment.clone(),
            catalog_environment: self.catalog_environment.clone(),
            kind: self.kind,
            trigger: self.trigger.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            status: self.status,
            finished_at: self.finished_at,
            reason: self.reason.clone(),
            tags: self.tags.clone(),
            context: self.context.clone(),
            steps,
            journal: Vec::new(),
            max_parallel: self.max_parallel,
        }
    }

    /// Outputs of every step, for template rendering.
    pub fn outputs(&self) -> BTreeMap<String, BTreeMap<String, Value>> {
        self.steps
            .iter()
            .map(|(k, s)| (k.to_string(), s.outputs.clone()))
            .collect()
    }

    /// The environment's URLs from its steps' outputs: a `url` output (named after its step), a `<name>_url`
    /// output (named `<step>.<name>`), and the entries of a `urls` map (named by their key, the map given as an
    /// object or as JSON text). Only `http://` and `https://` values count.
    pub fn urls(&self) -> BTreeMap<String, String> {
        let web = |v: &Value| {
            v.as_str()
                .filter(|s| s.starts_with("https://") || s.starts_with("http://"))
                .map(str::to_string)
        };
        let mut out = BTreeMap::new();
        for (step, s) in &self.steps {
            for (key, value) in &s.outputs {
                if key == "url" {
                    out.extend(web(value).map(|u| (step.to_string(), u)));
                } else if let Some(name) = key.strip_suffix("_url") {
                    out.extend(web(value).map(|u| (format!("{step}.{name}"), u)));
                } else if key == "urls" {
                    let map = match value {
                        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
                        other => other.clone(),
                    };
                    if let Value::Object(entries) = map {
                        out.extend(
                            entries
                                .iter()
                                .filter_map(|(k, v)| web(v).map(|u| (k.clone(), u))),
                        );
                    }
                }
            }
        }
        out
    }

    /// Run time so far, or in total once finished.
    pub fn duration_secs(&self, now: DateTime<Utc>) -> f64 {
        let end = self.finished_at.unwrap_or(now);
        (end - self.created_at).num_milliseconds() as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::{tests::DEMO, Catalog};
    use crate::names::{EnvironmentName, StepName};
    use crate::planner::{plan, PlanRequest};
    use crate::run::Trigger;
    use chrono::TimeZone;
    use serde_json::json;

    /// The demo product's run for `pr-1`, as planned.
    fn demo_run() -> super::Run {
        let c = Catalog::parse_files(&[("c.yaml".into(), DEMO.into())]).unwrap();
        plan(PlanRequest {
            product: &c.products[0],
            environment: &EnvironmentName::parse("pr-1").unwrap(),
            trigger: Trigger::Nightly {
                night: chrono::NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
                rebuild: 0,
            },
            ttl: None,
            instance: "nightshift",
            now: chrono::Utc.with_ymd_and_hms(2026, 11, 21, 1, 0, 0).unwrap(),
        })
        .unwrap()
    }

    #[test]
    fn a_steps_assignment_holds_that_step_and_the_outputs_templates_read_but_no_journal_attempts_or_other_steps(
    ) {
        let mut run = demo_run();
        let names: Vec<StepName> = run.steps.keys().cloned().collect();
        assert!(names.len() >= 3, "the demo has steps");
        let (with_outputs, me) = (&names[0], &names[names.len() - 1]);
        run.steps
            .get_mut(with_outputs)
            .unwrap()
            .outputs
            .insert("url".into(), json!("https://x.example.test"));
        run.journal.push(crate::run::JournalEntry {
            at: run.created_at,
            step: None,
            attempt: None,
            from: "waiting".into(),
            to: "running".into(),
            reason: None,
        });

        let a = run.for_step(me);

        let kept: Vec<&StepName> = a.steps.keys().collect();
        assert_eq!(kept, vec![with_outputs, me]);
        assert!(a.journal.is_empty());
        assert_eq!(
            a.outputs()[with_outputs.as_str()]["url"],
            "https://x.example.test"
        );
        assert_eq!(
            (&a.id, &a.tags, &a.context),
            (&run.id, &run.tags, &run.context)
        );
        assert_eq!(a.steps[me].def, run.steps[me].def);
    }

    #[test]
    fn the_environment_urls_come_from_url_outputs_and_urls_maps_and_only_web_addresses_count() {
        let mut run = demo_run();
        let mut set = |step: &str, k: &str, v: serde_json::Value| {
            run.steps
                .get_mut(&StepName::parse(step).unwrap())
                .unwrap()
                .outputs
                .insert(k.into(), v);
        };
        set("app", "url", json!("https://app.example.test"));
        set("app", "admin_url", json!("http://admin.example.test"));
        set("app", "database_path", json!("/tmp/x.sqlite"));
        set("db", "url", json!("postgres://db"));
        set(
            "smoke",
            "urls",
            json!(r#"{"patient":"https://p.example.test","n":3}"#),
        );
        set("seed", "urls", json!({"pro": "https://pro.example.test"}));

        let urls = run.urls();

        let names: Vec<&str> = urls.keys().map(String::as_str).collect();
        assert_eq!(names, vec!["app", "app.admin", "patient", "pro"]);
        assert_eq!(urls["app.admin"], "http://admin.example.test");
    }
}
