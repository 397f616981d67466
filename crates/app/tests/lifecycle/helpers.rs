//! A local app on a temp directory with a test clock, and the moves a test makes: send an action, finish a build.

use chrono::{DateTime, Duration, TimeZone, Utc};
use nightshift_app::repo::{ActionRecord, EnvironmentRecord};
use nightshift_app::{App, Settings};
use nightshift_core::expiry::tags;
use nightshift_core::messages::{StepEventMessage, StepOutcome, STEP_EVENT_SCHEMA};
use nightshift_core::ports::Clock;
use nightshift_core::run::{Run, RunStatus, StepStatus};
use nightshift_core::RunId;
use nightshift_local::cloud::LocalCloud;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: local
steps:
  app: { smoke: { command: [true] } }
  check: { needs: [app], smoke: { command: [true] } }
environments:
  pr: { kind: pull-request }
  main: { kind: persistent }
"#;

pub struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

pub struct World {
    pub app: App,
    pub clock: Arc<TestClock>,
    pub cloud: LocalCloud,
    pub state: PathBuf,
    _dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        Self::with_catalog(CATALOG)
    }

    pub fn with_catalog(catalog: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
        std::fs::write(dir.path().join("catalog/shop.yaml"), catalog).unwrap();
        let state = dir.path().join("state");
        let env: BTreeMap<&str, String> = [
            ("NIGHTSHIFT_STATE_DIR", state.display().to_string()),
            (
                "NIGHTSHIFT_CATALOG",
                dir.path().join("catalog").display().to_string(),
            ),
            ("NIGHTSHIFT_RUNNER", "true".to_string()),
        ]
        .into();
        let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
        let clock = Arc::new(TestClock(Mutex::new(t0())));
        let mut ports = nightshift_app::wiring::local(&settings);
        ports.clock = clock.clone();
        let cloud = LocalCloud::new(settings.cloud_dir());
        Self {
            app: App::new(ports, settings),
            clock,
            cloud,
            state,
            _dir: dir,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn advance(&self, d: Duration) {
        *self.clock.0.lock().unwrap() += d;
    }

    /// Sends a `releases` message: `fields` is the JSON after the common ones, e.g. `"action":"close"`.
    pub async fn send(&self, message_id: &str, env: &str, fields: &str) -> ActionRecord {
        let body = format!(
            r#"{{"schema":"nightshift.release/v1","product":"shop","environment":"{env}","requested_by":"alice",{fields}}}"#
        );
        self.send_raw(message_id, &body).await
    }

    pub async fn send_raw(&self, message_id: &str, body: &str) -> ActionRecord {
        self.app.release(body, message_id).await.unwrap();
        self.app
            .repo
            .action(message_id)
            .await
            .unwrap()
            .expect("every message is journaled")
    }

    /// A deploy, built to the end: its resource group created with the run's tags (as its Terraform would), then
    /// every step reported succeeded, except `fail` which fails for good.
    pub async fn build(
        &self,
        message_id: &str,
        env: &str,
        version: &str,
        fail: Option<&str>,
    ) -> Run {
        let rec = self
            .send(message_id, env, &format!(r#""version":"{version}""#))
            .await;
        let id = RunId::parse(rec.run_id.as_deref().expect("a deploy names its run")).unwrap();
        self.finish(&id, fail).await
    }

    /// Feeds step results until the run ends.
    pub async fn finish(&self, id: &RunId, fail: Option<&str>) -> Run {
        let run = self.app.repo.run(id).await.unwrap().unwrap();
        self.cloud
            .create_group(&format!("rg-shop-{}", run.environment), &run.tags)
            .unwrap();
        std::fs::create_dir_all(self.tfstate_dir(run.environment.as_str())).unwrap();
        for _ in 0..20 {
            let run = self.app.repo.run(id).await.unwrap().unwrap();
            if run.status.is_finished() {
                return run;
            }
            for (step, s) in run
                .steps
                .iter()
                .filter(|(_, s)| s.status == StepStatus::Queued)
            {
                let failed = fail == Some(step.as_str());
                let event = StepEventMessage {
                    schema: STEP_EVENT_SCHEMA.into(),
                    run_id: id.clone(),
                    step: step.clone(),
                    attempt: s.attempt,
                    outcome: if failed {
                        StepOutcome::Failed
                    } else {
                        StepOutcome::Succeeded
                    },
                    exit_code: Some(if failed { 1 } else { 0 }),
                    reason: failed.then(|| "smoke check failed".to_string()),
                    permanent: failed,
                    outputs: BTreeMap::from([(
                        "url".to_string(),
                        serde_json::json!(format!("https://{step}.example.test")),
                    )]),
                    started_at: self.now(),
                    finished_at: self.now(),
                    log: None,
                };
                self.app
                    .step_event(&serde_json::to_string(&event).unwrap(), &event.message_id())
                    .await
                    .unwrap();
            }
            self.advance(Duration::minutes(1));
        }
        panic!("run {id} did not finish")
    }

    pub async fn env(&self, env: &str) -> EnvironmentRecord {
        self.app
            .repo
            .environment("shop", env)
            .await
            .unwrap()
            .unwrap()
    }

    pub fn tag(&self, env: &str) -> Option<String> {
        self.cloud
            .list_all()
            .unwrap()
            .into_iter()
            .find(|g| g.name == format!("rg-shop-{env}"))
            .and_then(|g| g.tags.get(tags::EXPIRES_AT).cloned())
    }

    pub fn tfstate_dir(&self, env: &str) -> PathBuf {
        self.state.join("terraform/shop").join(env)
    }

    pub async fn rejected_count(&self) -> usize {
        self.app.repo.rejected().await.unwrap().len()
    }

    pub async fn runs(&self) -> Vec<Run> {
        self.app.repo.runs().await.unwrap()
    }
}

pub fn succeeded(run: &Run) -> bool {
    run.status == RunStatus::Succeeded
}

pub fn fmt(t: DateTime<Utc>) -> String {
    tags::format_time(t)
}
