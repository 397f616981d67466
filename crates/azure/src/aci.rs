//! The `Jobs` port on Azure Container Instances: one container group per step attempt, named by the attempt's
//! deterministic [`JobName`], so a redelivered dispatch finds the group it already created.
//!
//! Secrets never travel as values: the spec's secrets are Key Vault secret *names*, passed to the runner as plain
//! `NIGHTSHIFT_SECRET_<VAR>=<secret name>`; the runner reads the values with its user-assigned identity.

use crate::arm::{classify, ArmClient};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use nightshift_core::names::JobName;
use nightshift_core::ports::{JobSpec, JobStart, JobState, Jobs, PortError};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

/// The Container Instances api-version this adapter speaks.
pub const ACI_API: &str = "2025-09-01";
/// The one container in each group.
pub const CONTAINER: &str = "runner";

/// Where and how the step containers run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AciSettings {
    pub resource_group: String,
    pub location: String,
    pub runner_image: String,
    /// Resource id of the user-assigned identity the runner gets.
    pub identity_id: String,
    /// Its client id, passed to the runner as `AZURE_CLIENT_ID`.
    pub identity_client_id: String,
    /// Registry to pull the image from with that identity (none: a public image).
    pub registry_server: Option<String>,
    /// Passed to the runner as `NIGHTSHIFT_KEY_VAULT_URL`, to read its secrets from.
    pub key_vault_url: Option<String>,
}

/// `Jobs` on ACI container groups.
#[derive(Debug, Clone)]
pub struct AciJobs {
    arm: ArmClient,
    settings: AciSettings,
}

impl AciJobs {
    pub fn new(arm: ArmClient, settings: AciSettings) -> Self {
        Self { arm, settings }
    }

    fn group_url(&self, name: &JobName, suffix: &str) -> String {
        self.arm.subscription_url(&format!(
            "/resourceGroups/{}/providers/Microsoft.ContainerInstance/containerGroups/{}{suffix}?api-version={ACI_API}",
            self.settings.resource_group,
            name.as_str()
        ))
    }

    /// The container group's ARM body for one step attempt.
    pub fn container_group(&self, spec: &JobSpec) -> Value {
        let s = &self.settings;
        let mut env: Vec<Value> = Vec::new();
        let mut push = |name: &str, value: &str| env.push(json!({"name": name, "value": value}));
        push("NIGHTSHIFT_RUN_ID", spec.run_id.as_str());
        push("NIGHTSHIFT_STEP", spec.step.as_str());
        push("NIGHTSHIFT_ATTEMPT", &spec.attempt.to_string());
        push("NIGHTSHIFT_JOB_NAME", spec.name.as_str());
        push("AZURE_CLIENT_ID", &s.identity_client_id);
        if let Some(vault) = &s.key_vault_url {
            push("NIGHTSHIFT_KEY_VAULT_URL", vault);
        }
        for (k, v) in &spec.env {
            push(k, v);
        }
        for (var, secret_name) in &spec.secrets {
            push(&format!("NIGHTSHIFT_SECRET_{var}"), secret_name);
        }
        let mut properties = json!({
            "osType": "Linux",
            "restartPolicy": "Never",
            "containers": [{
                "name": CONTAINER,
                "properties": {
                    "image": s.runner_image,
                    "environmentVariables": env,
                    "resources": {"requests": {"cpu": spec.cpu, "memoryInGB": spec.memory_gb}},
                }
            }],
        });
        if let Some(server) = &s.registry_server {
            properties["imageRegistryCredentials"] =
                json!([{"server": server, "identity": s.identity_id}]);
        }
        json!({
            "location": s.location,
            "identity": {
                "type": "UserAssigned",
                "userAssignedIdentities": {s.identity_id.clone(): {}},
            },
            "tags": {
                "nightshift-run": spec.run_id.as_str(),
                "nightshift-step": spec.step.as_str(),
                "nightshift-attempt": spec.attempt.to_string(),
            },
            "properties": properties,
        })
    }
}

#[derive(Deserialize)]
struct Group {
    #[serde(default)]
    properties: GroupProperties,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct GroupProperties {
    #[serde(default)]
    provisioning_state: Option<String>,
    #[serde(default)]
    containers: Vec<Container>,
}

#[derive(Deserialize)]
struct Container {
    name: String,
    #[serde(default)]
    properties: ContainerProperties,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ContainerProperties {
    #[serde(default)]
    instance_view: Option<InstanceView>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceView {
    #[serde(default)]
    current_state: Option<ContainerState>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerState {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    exit_code: Option<i32>,
    #[serde(default)]
    finish_time: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct Logs {
    #[serde(default)]
    content: Option<String>,
}

fn state_of(group: Group) -> JobState {
    let container = group
        .properties
        .containers
        .into_iter()
        .find(|c| c.name == CONTAINER);
    let current = container
        .and_then(|c| c.properties.instance_view)
        .and_then(|v| v.current_state);
    if let Some(ContainerState {
        state: Some(state),
        exit_code,
        finish_time,
    }) = current
    {
        if state == "Terminated" {
            return JobState::Exited {
                // A terminated container without an exit code was killed from outside.
                code: exit_code.unwrap_or(-1),
                finished_at: finish_time,
            };
        }
    }
    // The group could not be provisioned (image pull, quota): the container will never run.
    if group.properties.provisioning_state.as_deref() == Some("Failed") {
        return JobState::Exited {
            code: -1,
            finished_at: None,
        };
    }
    JobState::Running
}

#[async_trait]
impl Jobs for AciJobs {
    #[tracing::instrument(skip_all, fields(job = %spec.name, run_id = %spec.run_id, step = %spec.step))]
    async fn start(&self, spec: &JobSpec) -> Result<JobStart, PortError> {
        let url = self.group_url(&spec.name, "");
        let existing = self.arm.send(Method::GET, &url, None).await?;
        match existing.status.as_u16() {
            200 => {
                tracing::info!("container group exists already: a redelivered dispatch");
                return Ok(JobStart::AlreadyExists);
            }
            404 => {}
            _ => return Err(classify(&Method::GET, &url, &existing)),
        }
        let body = self.container_group(spec);
        let created = self.arm.send(Method::PUT, &url, Some(&body)).await?;
        match created.status.as_u16() {
            200 | 201 => Ok(JobStart::Started),
            _ => Err(classify(&Method::PUT, &url, &created)),
        }
    }

    #[tracing::instrument(skip_all, fields(job = %name))]
    async fn state(&self, name: &JobName) -> Result<JobState, PortError> {
        let url = self.group_url(name, "");
        let response = self.arm.send(Method::GET, &url, None).await?;
        match response.status.as_u16() {
            404 => Ok(JobState::NotFound),
            200 => Ok(state_of(response.json()?)),
            _ => Err(classify(&Method::GET, &url, &response)),
        }
    }

    #[tracing::instrument(skip_all, fields(job = %name))]
    async fn logs(&self, name: &JobName) -> Result<String, PortError> {
        let url = self.group_url(name, &format!("/containers/{CONTAINER}/logs"));
        let response = self.arm.send(Method::GET, &url, None).await?;
        match response.status.as_u16() {
            200 => Ok(response.json::<Logs>()?.content.unwrap_or_default()),
            404 => Err(PortError::Permanent(format!("job {name} not found"))),
            _ => Err(classify(&Method::GET, &url, &response)),
        }
    }

    #[tracing::instrument(skip_all, fields(job = %name))]
    async fn stop(&self, name: &JobName) -> Result<(), PortError> {
        let url = self.group_url(name, "/stop");
        let response = self.arm.send(Method::POST, &url, None).await?;
        match response.status.as_u16() {
            200..=299 | 404 => Ok(()),
            _ => Err(classify(&Method::POST, &url, &response)),
        }
    }

    #[tracing::instrument(skip_all, fields(job = %name))]
    async fn delete(&self, name: &JobName) -> Result<(), PortError> {
        let url = self.group_url(name, "");
        let response = self.arm.send(Method::DELETE, &url, None).await?;
        // 202: ACI finishes the deletion on its own; names are never reused, so there is nothing to wait for.
        match response.status.as_u16() {
            200..=299 | 404 => Ok(()),
            _ => Err(classify(&Method::DELETE, &url, &response)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminated_container_reports_its_exit_code() {
        let g: Group =
            serde_json::from_value(json!({"properties": {"provisioningState": "Succeeded",
            "containers": [{"name": "runner", "properties": {"instanceView": {"currentState":
            {"state": "Terminated", "exitCode": 3, "finishTime": "2025-01-02T03:04:05Z"}}}}]}}))
            .unwrap();
        assert!(matches!(
            state_of(g),
            JobState::Exited {
                code: 3,
                finished_at: Some(_)
            }
        ));
    }

    #[test]
    fn a_waiting_container_is_running_and_a_failed_group_has_exited() {
        let g: Group =
            serde_json::from_value(json!({"properties": {"containers": [{"name": "runner",
            "properties": {"instanceView": {"currentState": {"state": "Waiting"}}}}]}}))
            .unwrap();
        assert_eq!(state_of(g), JobState::Running);
        let g: Group =
            serde_json::from_value(json!({"properties": {"provisioningState": "Failed"}})).unwrap();
        assert!(matches!(state_of(g), JobState::Exited { code: -1, .. }));
    }
}
