//! AciJobs against the REST contract (loopback server following the documented Container Instances behaviour).

use crate::arm_client;
use crate::fake_arm::{spawn_fake_arm, FakeArm};
use nightshift_azure::{AciJobs, AciSettings};
use nightshift_core::names::{JobName, RunId, StepName};
use nightshift_core::ports::{JobSpec, JobStart, JobState, Jobs};
use std::collections::BTreeMap;

const IDENTITY_ID: &str = "/subscriptions/s/resourceGroups/ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/runner";

fn jobs(fake: &FakeArm) -> AciJobs {
    AciJobs::new(
        arm_client(fake),
        AciSettings {
            resource_group: "nightshift-jobs".into(),
            location: "westeurope".into(),
            runner_image: "contoso.azurecr.io/nightshift-runner:1.0.0".into(),
            identity_id: IDENTITY_ID.into(),
            identity_client_id: "11111111-2222-3333-4444-555555555555".into(),
            registry_server: Some("contoso.azurecr.io".into()),
            key_vault_url: Some("https://contoso.vault.azure.net".into()),
        },
    )
}

fn spec() -> JobSpec {
    let run_id = RunId::parse("orthense.nightly.2025-01-02").unwrap();
    let step = StepName::parse("seed-sql").unwrap();
    JobSpec {
        name: JobName::for_attempt(&run_id, &step, 1),
        run_id,
        step,
        attempt: 1,
        env: BTreeMap::from([("TF_VAR_region".to_string(), "westeurope".to_string())]),
        secrets: BTreeMap::from([("DB_PASSWORD".to_string(), "orthense-sql-admin".to_string())]),
        cpu: 1.5,
        memory_gb: 3.0,
    }
}

#[tokio::test]
async fn contract_a_redelivered_dispatch_creates_no_second_container_group() {
    let fake = spawn_fake_arm().await;
    let jobs = jobs(&fake);
    let spec = spec();

    let first = jobs.start(&spec).await.unwrap();
    let again = jobs.start(&spec).await.unwrap();

    assert_eq!((first, again), (JobStart::Started, JobStart::AlreadyExists));
    let puts = fake.requests_to("PUT", "/containerGroups/");
    assert_eq!(puts.len(), 1);
    assert!(puts[0].path.ends_with(&format!(
        "/resourceGroups/nightshift-jobs/providers/Microsoft.ContainerInstance/containerGroups/{}",
        spec.name
    )));
    assert_eq!(fake.state.lock().unwrap().container_groups.len(), 1);
}

#[tokio::test]
async fn contract_the_container_group_runs_once_with_the_runner_identity_and_secret_names_only() {
    let fake = spawn_fake_arm().await;
    let spec = spec();

    jobs(&fake).start(&spec).await.unwrap();

    let put = &fake.requests_to("PUT", "/containerGroups/")[0];
    let body: serde_json::Value = serde_json::from_str(&put.body).unwrap();
    assert_eq!(body["properties"]["restartPolicy"], "Never");
    assert_eq!(body["properties"]["osType"], "Linux");
    assert_eq!(body["identity"]["type"], "UserAssigned");
    assert!(body["identity"]["userAssignedIdentities"]
        .get(IDENTITY_ID)
        .is_some());
    assert_eq!(
        body["properties"]["imageRegistryCredentials"][0]["identity"],
        IDENTITY_ID
    );
    let container = &body["properties"]["containers"][0]["properties"];
    assert_eq!(
        container["image"],
        "contoso.azurecr.io/nightshift-runner:1.0.0"
    );
    assert_eq!(container["resources"]["requests"]["cpu"], 1.5);
    assert_eq!(container["resources"]["requests"]["memoryInGB"], 3.0);
    let env: BTreeMap<String, String> = container["environmentVariables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(env["NIGHTSHIFT_SECRET_DB_PASSWORD"], "orthense-sql-admin");
    assert_eq!(env["TF_VAR_region"], "westeurope");
    assert_eq!(env["NIGHTSHIFT_RUN_ID"], "orthense.nightly.2025-01-02");
    assert_eq!(
        env["AZURE_CLIENT_ID"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert!(
        !env.contains_key("DB_PASSWORD"),
        "a secret is passed by name, never as a value"
    );
}

#[tokio::test]
async fn contract_a_job_that_exits_with_code_1_is_reported_exited_with_its_log_and_then_deleted() {
    let fake = spawn_fake_arm().await;
    let jobs = jobs(&fake);
    let spec = spec();
    jobs.start(&spec).await.unwrap();
    assert_eq!(jobs.state(&spec.name).await.unwrap(), JobState::Running);

    fake.finish_job(
        spec.name.as_str(),
        1,
        "terraform apply\nError: quota exceeded\n",
    );
    let state = jobs.state(&spec.name).await.unwrap();
    let logs = jobs.logs(&spec.name).await.unwrap();
    jobs.delete(&spec.name).await.unwrap();

    assert!(
        matches!(
            state,
            JobState::Exited {
                code: 1,
                finished_at: Some(_)
            }
        ),
        "{state:?}"
    );
    assert!(logs.contains("Error: quota exceeded"));
    assert_eq!(jobs.state(&spec.name).await.unwrap(), JobState::NotFound);
    jobs.delete(&spec.name).await.unwrap();
    jobs.stop(&spec.name).await.unwrap();
}

#[tokio::test]
async fn contract_stopping_a_running_job_posts_stop() {
    let fake = spawn_fake_arm().await;
    let jobs = jobs(&fake);
    let spec = spec();
    jobs.start(&spec).await.unwrap();

    jobs.stop(&spec.name).await.unwrap();

    assert_eq!(fake.requests_to("POST", "/stop").len(), 1);
    assert!(matches!(
        jobs.state(&spec.name).await.unwrap(),
        JobState::Exited { .. }
    ));
}
