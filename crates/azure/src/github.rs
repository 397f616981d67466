//! The GitHub deployments notifier: for pull-request environments (`pr-<number>`), a deployment when a run starts
//! and its statuses as the run goes (`in_progress`, `success` with `environment_url`, `failure` with `log_url`,
//! `inactive` when the environment is destroyed), so the pull request shows the environment's link.
//!
//! REST shapes as documented: `POST /repos/{owner}/{repo}/deployments` answers 201 with the deployment's `id`;
//! `POST /repos/{owner}/{repo}/deployments/{id}/statuses` answers 201. The token is a Key Vault secret read at the
//! first call; it never appears in an error or in `Debug`. The deployment id of an environment is kept in the store
//! (`github/<product>/<environment>.json`), so later statuses (from other invocations) find it.

use async_trait::async_trait;
use nightshift_core::engine::{Notification, NotificationKind};
use nightshift_core::ports::{Notifier, PortError, Precondition, SecretValue, Secrets, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::fmt;
use std::sync::Arc;

/// GitHub's limit on a deployment status description.
const MAX_DESCRIPTION: usize = 140;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeploymentRef {
    deployment_id: u64,
    run: String,
}

pub struct GithubNotifier {
    api_url: String,
    repository: String,
    token_secret: String,
    secrets: Arc<dyn Secrets>,
    store: Arc<dyn Store>,
    http: reqwest::Client,
}

impl fmt::Debug for GithubNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubNotifier")
            .field("repository", &self.repository)
            .field("token_secret", &self.token_secret)
            .finish_non_exhaustive()
    }
}

/// The pull request number of a `pr-<number>` environment.
fn pull_number(environment: &str) -> Option<u64> {
    environment.strip_prefix("pr-")?.parse().ok()
}

fn is_sha(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn cut(s: &str) -> String {
    nightshift_core::notice::truncate(s, MAX_DESCRIPTION)
}

impl GithubNotifier {
    /// Performs no I/O.
    pub fn new(
        api_url: impl Into<String>,
        repository: impl Into<String>,
        token_secret: impl Into<String>,
        secrets: Arc<dyn Secrets>,
        store: Arc<dyn Store>,
    ) -> Self {
        Self {
            api_url: api_url.into().trim_end_matches('/').to_string(),
            repository: repository.into(),
            token_secret: token_secret.into(),
            secrets,
            store,
            http: crate::http::reqwest_client(),
        }
    }

    fn key(n: &Notification) -> String {
        format!("github/{}/{}.json", n.product, n.environment)
    }

    async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, PortError> {
        let token: SecretValue = self.secrets.get(&self.token_secret).await?;
        let response = self
            .http
            .post(format!("{}/repos/{}/{path}", self.api_url, self.repository))
            .bearer_auth(token.expose())
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header("User-Agent", "nightshift")
            .json(&body)
            .send()
            .await
            .map_err(|e| PortError::Transient(format!("GitHub {path}: {}", e.without_url())))?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let excerpt: String = text.chars().take(300).collect();
        match status {
            200..=299 => Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)),
            408 | 429 | 500..=599 => Err(PortError::Transient(format!(
                "GitHub {path} answered {status}: {excerpt}"
            ))),
            _ => Err(PortError::Permanent(format!(
                "GitHub {path} answered {status}: {excerpt}"
            ))),
        }
    }

    async fn create_deployment(&self, n: &Notification, number: u64) -> Result<u64, PortError> {
        let git_ref = match n.details.version.as_deref() {
            Some(v) if is_sha(v) => v.to_string(),
            _ => format!("refs/pull/{number}/head"),
        };
        let body = json!({
            "ref": git_ref,
            "task": "deploy",
            "auto_merge": false,
            "required_contexts": [],
            "environment": format!("{}/{}", n.product, n.environment),
            "description": cut(&format!("nightshift run {}", n.run)),
            "transient_environment": true,
            "production_environment": false,
            "payload": { "run": n.run },
        });
        let v = self.post("deployments", body).await?;
        let id = v["id"].as_u64().ok_or_else(|| {
            PortError::Permanent("GitHub created a deployment without an id".into())
        })?;
        let rec = DeploymentRef {
            deployment_id: id,
            run: n.run.clone(),
        };
        self.store
            .put(
                &Self::key(n),
                serde_json::to_vec(&rec).expect("serializable"),
                Precondition::None,
            )
            .await?;
        Ok(id)
    }

    async fn deployment(&self, n: &Notification) -> Result<Option<u64>, PortError> {
        Ok(match self.store.get(&Self::key(n)).await? {
            Some(v) => serde_json::from_slice::<DeploymentRef>(&v.bytes)
                .ok()
                .map(|r| r.deployment_id),
            None => None,
        })
    }
}

#[async_trait]
impl Notifier for GithubNotifier {
    fn target(&self) -> String {
        format!("github:{}", self.repository)
    }

    async fn notify(&self, n: &Notification) -> Result<(), PortError> {
        let Some(number) = pull_number(&n.environment) else {
            return Ok(());
        };
        let d = &n.details;
        let (id, mut status) = match n.kind {
            NotificationKind::RunStarted => {
                let id = self.create_deployment(n, number).await?;
                (
                    id,
                    json!({"state": "in_progress", "description": cut(&n.text)}),
                )
            }
            NotificationKind::RunSucceeded => {
                let Some(id) = self.deployment(n).await? else {
                    return Ok(());
                };
                let mut s =
                    json!({"state": "success", "description": cut(&n.text), "auto_inactive": true});
                if let Some(url) = d.urls.values().next() {
                    s["environment_url"] = url.clone().into();
                }
                (id, s)
            }
            NotificationKind::RunFailed => {
                let Some(id) = self.deployment(n).await? else {
                    return Ok(());
                };
                (id, json!({"state": "failure", "description": cut(&n.text)}))
            }
            NotificationKind::EnvironmentDestroyed => {
                let Some(id) = self.deployment(n).await? else {
                    return Ok(());
                };
                (
                    id,
                    json!({"state": "inactive", "description": cut(&n.text)}),
                )
            }
            _ => return Ok(()),
        };
        if let Some(url) = &d.status_url {
            status["log_url"] = url.clone().into();
        }
        self.post(&format!("deployments/{id}/statuses"), status)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Contract tests on loopback (GitHub cannot be reached here): a server that accepts only the documented
    //! request shapes of the deployments and deployment statuses endpoints and answers as GitHub does (201 with
    //! the deployment's `id`).
    use super::*;
    use axum::extract::Path;
    use axum::http::{HeaderMap, StatusCode};
    use nightshift_core::notice::Details;
    use nightshift_core::ports::Versioned;
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    #[derive(Default)]
    struct MemStore(Mutex<BTreeMap<String, Vec<u8>>>);

    #[async_trait]
    impl Store for MemStore {
        async fn get(&self, key: &str) -> Result<Option<Versioned>, PortError> {
            Ok(self.0.lock().unwrap().get(key).map(|b| Versioned {
                bytes: b.clone(),
                version: "1".into(),
            }))
        }
        async fn put(
            &self,
            key: &str,
            bytes: Vec<u8>,
            _: Precondition,
        ) -> Result<String, PortError> {
            self.0.lock().unwrap().insert(key.into(), bytes);
            Ok("1".into())
        }
        async fn list(&self, _: &str) -> Result<Vec<String>, PortError> {
            Ok(Vec::new())
        }
        async fn delete(&self, _: &str) -> Result<(), PortError> {
            Ok(())
        }
    }

    struct Token;

    #[async_trait]
    impl Secrets for Token {
        async fn get(&self, name: &str) -> Result<SecretValue, PortError> {
            assert_eq!(name, "github-token");
            Ok(SecretValue::new("ghs_secret_token_value".into()))
        }
    }

    type Calls = Arc<Mutex<Vec<(String, Value)>>>;

    /// Checks a body against the documented fields: required ones present, no field GitHub does not know.
    fn shape_errors(body: &Value, required: &[&str], allowed: &[&str]) -> Vec<String> {
        let o = body.as_object().cloned().unwrap_or_default();
        let mut e: Vec<String> = required
            .iter()
            .filter(|r| !o.contains_key(**r))
            .map(|r| format!("missing {r}"))
            .collect();
        e.extend(
            o.keys()
                .filter(|k| !allowed.contains(&k.as_str()))
                .map(|k| format!("unknown field {k}")),
        );
        e
    }

    async fn github() -> (String, Calls) {
        let calls: Calls = Arc::default();
        let c1 = calls.clone();
        let c2 = calls.clone();
        let auth = |h: &HeaderMap| {
            h.get("authorization").and_then(|v| v.to_str().ok())
                == Some("Bearer ghs_secret_token_value")
                && h.get("accept").and_then(|v| v.to_str().ok())
                    == Some("application/vnd.github+json")
                && h.contains_key("user-agent")
        };
        let app = axum::Router::new()
            .route(
                "/repos/{owner}/{repo}/deployments",
                axum::routing::post(move |Path((o, r)): Path<(String, String)>, h: HeaderMap, body: axum::Json<Value>| async move {
                    let errors = shape_errors(&body.0, &["ref"], &["ref", "task", "auto_merge", "required_contexts", "payload", "environment", "description", "transient_environment", "production_environment"]);
                    if !auth(&h) || o != "octo" || r != "shop" || !errors.is_empty() {
                        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"message": "Validation Failed", "errors": errors})));
                    }
                    c1.lock().unwrap().push(("deployment".into(), body.0));
                    (StatusCode::CREATED, axum::Json(json!({"id": 1234567, "sha": "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d", "ref": "topic-branch"})))
                }),
            )
            .route(
                "/repos/{owner}/{repo}/deployments/{id}/statuses",
                axum::routing::post(move |Path((_, _, id)): Path<(String, String, u64)>, h: HeaderMap, body: axum::Json<Value>| async move {
                    let mut errors = shape_errors(&body.0, &["state"], &["state", "target_url", "log_url", "description", "environment", "environment_url", "auto_inactive"]);
                    let states = ["error", "failure", "inactive", "in_progress", "queued", "pending", "success"];
                    if !body.0["state"].as_str().is_some_and(|s| states.contains(&s)) {
                        errors.push("bad state".into());
                    }
                    if body.0["description"].as_str().is_some_and(|d| d.chars().count() > 140) {
                        errors.push("description over 140".into());
                    }
                    if !auth(&h) || id != 1234567 || !errors.is_empty() {
                        return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"errors": errors})));
                    }
                    c2.lock().unwrap().push((format!("status {}", body.0["state"].as_str().unwrap()), body.0));
                    (StatusCode::CREATED, axum::Json(json!({"id": 1, "state": "success"})))
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (url, calls)
    }

    fn n(kind: NotificationKind, env: &str) -> Notification {
        let mut details = Details {
            version: Some("1.4.2".into()),
            status_url: Some("https://ns.example.net/api/status/runs/shop.pr-7.r1".into()),
            ..Details::default()
        };
        if kind == NotificationKind::RunSucceeded {
            details
                .urls
                .insert("web".into(), "https://shop-pr-7.example.net".into());
        }
        Notification {
            kind,
            run: "shop.pr-7.r1".into(),
            product: "shop".into(),
            environment: env.into(),
            text: "x".repeat(300),
            details: Box::new(details),
        }
    }

    #[tokio::test]
    async fn a_pull_request_environment_gets_a_deployment_and_its_statuses_in_the_documented_shapes(
    ) {
        let (url, calls) = github().await;
        let g = GithubNotifier::new(
            &url,
            "octo/shop",
            "github-token",
            Arc::new(Token),
            Arc::new(MemStore::default()),
        );
        for kind in [
            NotificationKind::RunStarted,
            NotificationKind::StepRetrying,
            NotificationKind::RunSucceeded,
            NotificationKind::RunFailed,
            NotificationKind::EnvironmentDestroyed,
        ] {
            g.notify(&n(kind, "pr-7")).await.unwrap();
        }
        let calls = calls.lock().unwrap().clone();
        let names: Vec<&str> = calls.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "deployment",
                "status in_progress",
                "status success",
                "status failure",
                "status inactive"
            ]
        );
        assert_eq!(calls[0].1["ref"], "refs/pull/7/head");
        assert_eq!(calls[0].1["environment"], "shop/pr-7");
        assert_eq!(calls[0].1["transient_environment"], true);
        assert_eq!(
            calls[2].1["environment_url"],
            "https://shop-pr-7.example.net"
        );
        assert_eq!(
            calls[3].1["log_url"],
            "https://ns.example.net/api/status/runs/shop.pr-7.r1"
        );
        assert_eq!(g.target(), "github:octo/shop");
    }

    #[tokio::test]
    async fn other_environments_are_left_alone_and_a_rejection_is_permanent_without_the_token() {
        let (url, calls) = github().await;
        let g = GithubNotifier::new(
            &url,
            "octo/shop",
            "github-token",
            Arc::new(Token),
            Arc::new(MemStore::default()),
        );
        g.notify(&n(NotificationKind::RunStarted, "nightly"))
            .await
            .unwrap();
        assert!(calls.lock().unwrap().is_empty());
        let wrong = GithubNotifier::new(
            &url,
            "octo/other",
            "github-token",
            Arc::new(Token),
            Arc::new(MemStore::default()),
        );
        let e = wrong
            .notify(&n(NotificationKind::RunStarted, "pr-7"))
            .await
            .unwrap_err();
        assert!(!e.is_retryable(), "{e}");
        assert!(!e.to_string().contains("ghs_secret"), "{e}");
        assert!(!format!("{wrong:?}").contains("ghs_secret"));
    }
}
