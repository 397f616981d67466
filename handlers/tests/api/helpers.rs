//! `spawn_app()`: the handler's router over the local adapters on a temporary state directory, and the helpers
//! the tests share (fixtures, invocations, a look at what the adapters left on disk).

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use nightshift_app::{App, Settings};
use nightshift_core::messages::StepMessage;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::TempDir;
use tower::ServiceExt;

/// The run the release fixture starts: `<product>.<environment>.r<version>-<first 8 of the message id>`.
pub const FIXTURE_RUN_ID: &str = "demo.pr-42.r1-4-2-ffdd578f0b";

/// A local product whose steps are smoke steps: `provision`, then `verify`. Jobs never run them (the runner is
/// `true`), so nothing here needs Terraform or Ansible.
pub const CATALOG: &str = r#"schema: nightshift.catalog/v1
product: demo
description: handler integration tests
platform: local
defaults:
  retries: 1
  backoff: 1s
steps:
  provision:
    smoke:
      command: [sh, -c, "echo hi"]
  verify:
    needs: [provision]
    smoke:
      command: [sh, -c, "echo hi"]
environments:
  pr:
    kind: pull-request
    lifetime: 1d
    max_lifetime: 7d
"#;

pub struct TestApp {
    pub app: Arc<App>,
    pub settings: Settings,
    /// Kept alive for the test's duration; removed on drop.
    pub root: TempDir,
}

/// Builds the application exactly as the handler binary does, on local adapters under a fresh directory.
pub fn spawn_app() -> TestApp {
    spawn_app_with(&[])
}

/// [`spawn_app`] with more settings (e.g. notifications, actions).
pub fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let root = tempfile::tempdir().expect("a temporary directory");
    let catalog_dir = root.path().join("catalog");
    std::fs::create_dir_all(&catalog_dir).expect("catalog dir");
    std::fs::write(catalog_dir.join("demo.yaml"), CATALOG).expect("catalog written");
    let p = |sub: &str| root.path().join(sub).display().to_string();
    let env: HashMap<&str, String> = [
        ("NIGHTSHIFT_MODE", "local".to_string()),
        ("NIGHTSHIFT_STATE_DIR", p("state")),
        ("NIGHTSHIFT_CATALOG", p("catalog")),
        ("NIGHTSHIFT_REPO_ROOT", p("")),
        ("NIGHTSHIFT_TOOLS_DIR", p("tools")),
        // Jobs are detached processes; `true` starts and ends without reporting, which is all a handler test needs.
        ("NIGHTSHIFT_RUNNER", "true".to_string()),
    ]
    .into();
    let mut env = env;
    for (k, v) in extra {
        env.insert(k, v.to_string());
    }
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).expect("valid test settings");
    let ports = nightshift_app::wiring::local(&settings);
    let app = Arc::new(App::new(ports, settings.clone()));
    TestApp {
        app,
        settings,
        root,
    }
}

/// What the handler answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub text: String,
    pub json: Value,
}

impl Answer {
    pub fn outputs(&self) -> &Map<String, Value> {
        self.json["Outputs"]
            .as_object()
            .unwrap_or_else(|| panic!("no Outputs object in {}", self.text))
    }

    /// `Outputs.steps` decoded as step messages; each must be a string holding a `nightshift.step/v1` message.
    pub fn steps(&self) -> Vec<StepMessage> {
        match self.outputs().get("steps") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    let text = v
                        .as_str()
                        .unwrap_or_else(|| panic!("a steps output is a string, got {v}"));
                    StepMessage::decode(text)
                        .unwrap_or_else(|e| panic!("{text} is not a step message: {e}"))
                })
                .collect(),
            Some(other) => panic!("Outputs.steps is an array of strings, got {other}"),
        }
    }

    pub fn logs(&self) -> String {
        self.json["Logs"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    /// `Outputs.res` of an HTTP function, with its `body` string parsed.
    pub fn http_output(&self) -> (u16, Value) {
        let res = &self.outputs()["res"];
        let code = res["statusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("res.statusCode is a number in {res}"));
        let body = res["body"]
            .as_str()
            .unwrap_or_else(|| panic!("res.body is a string in {res}"));
        let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("res.body {body}: {e}"));
        (code as u16, body)
    }
}

impl TestApp {
    /// POSTs raw bytes to a path, as the Functions host does.
    pub async fn post_raw(&self, path: &str, body: impl Into<Body>) -> Answer {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.into())
            .expect("a request");
        self.send(request).await
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = nightshift_handlers::router(self.app.clone())
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, text, json }
    }

    /// Invokes a function with an invocation envelope.
    pub async fn invoke(&self, function: &str, envelope: &Value) -> Answer {
        self.post_raw(&format!("/{function}"), envelope.to_string())
            .await
    }

    /// Starts the fixture's run (`provision` queued) and returns the answer.
    pub async fn release_fixture_run(&self) -> Answer {
        let answer = self
            .invoke("release-intake", &fixture("release-intake.json"))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer
    }

    pub fn store_dir(&self) -> PathBuf {
        self.settings.store_dir()
    }

    /// The run document as stored, byte for byte.
    pub fn run_document(&self, id: &str) -> Option<String> {
        let id = nightshift_core::RunId::parse(id).ok()?;
        read_runs(self.store_dir(), Some(id))
            .first()
            .map(|r| serde_json::to_string_pretty(r).expect("a run serializes"))
    }

    /// Every run in the store.
    pub fn stored_runs(&self) -> Vec<Value> {
        read_runs(self.store_dir(), None)
            .iter()
            .map(|r| serde_json::to_value(r).expect("a run serializes"))
            .collect()
    }

    /// How many jobs were started: one directory each under the state dir's `jobs/`.
    pub fn job_count(&self) -> usize {
        match std::fs::read_dir(self.settings.jobs_dir()) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .count(),
            Err(_) => 0,
        }
    }

    /// The `status` function's report (through the function, as an operator would see it).
    pub async fn status_report(&self) -> Value {
        let answer = self.invoke("status", &fixture("status.json")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let (code, body) = answer.http_output();
        assert_eq!(code, 200, "{body}");
        body
    }
}

/// Runs as another process reads them (a repo of its own on the store: journals folded, snapshots), on a thread of
/// its own so a test's runtime is not blocked inside.
fn read_runs(store: PathBuf, id: Option<nightshift_core::RunId>) -> Vec<nightshift_core::run::Run> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        rt.block_on(async {
            let repo = nightshift_app::repo::Repo::new(Arc::new(
                nightshift_local::store::FsStore::new(store),
            ));
            match id {
                Some(id) => repo
                    .run(&id)
                    .await
                    .expect("the run reads")
                    .into_iter()
                    .collect(),
                None => repo.runs().await.expect("the runs read"),
            }
        })
    })
    .join()
    .expect("the reader thread")
}

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// A recorded invocation payload from `tests/data/`.
pub fn fixture(name: &str) -> Value {
    let path = data_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A Service Bus fixture carrying another body under another message id, encoded as the host encodes it: the body
/// text as a JSON string, the id with its embedded quotes, the body's top-level properties repeated in Metadata.
pub fn with_message(fixture: &Value, body_text: &str, message_id: &str) -> Value {
    let mut envelope = fixture.clone();
    let old_body = envelope["Data"]["message"]
        .as_str()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .map(|v| match v {
            Value::String(inner) => serde_json::from_str(&inner).unwrap_or(Value::Null),
            other => other,
        });
    let meta = envelope["Metadata"]
        .as_object_mut()
        .expect("a Metadata object");
    if let Some(Value::Object(old)) = old_body {
        for key in old.keys() {
            meta.remove(key);
        }
    }
    if let Ok(Value::Object(new)) = serde_json::from_str::<Value>(body_text) {
        for (k, v) in new {
            let repeated = match v {
                Value::String(s) => Value::String(Value::String(s).to_string()),
                Value::Null => Value::Null,
                other => Value::String(other.to_string()),
            };
            meta.insert(k, repeated);
        }
    }
    meta.insert(
        "MessageId".into(),
        Value::String(Value::String(message_id.into()).to_string()),
    );
    envelope["Data"]["message"] = Value::String(body_text.into());
    envelope
}

/// The body text of a Service Bus fixture, as the sender wrote it.
pub fn message_body(fixture: &Value) -> Value {
    let raw = fixture["Data"]["message"].as_str().expect("a string body");
    match serde_json::from_str::<Value>(raw).expect("JSON text") {
        Value::String(inner) => serde_json::from_str(&inner).expect("JSON text inside"),
        other => other,
    }
}

/// An HTTP fixture for `status/<path>`.
pub fn status_request(fixture_name: &str, path: &str) -> Value {
    let mut envelope = fixture(fixture_name);
    envelope["Data"]["req"]["Params"] = serde_json::json!({ "path": path });
    envelope["Metadata"]["path"] = Value::String(Value::String(path.into()).to_string());
    envelope
}
