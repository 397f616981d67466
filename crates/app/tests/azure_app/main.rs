//! Acceptance tests of issue 3 at the level of the use cases: a `nightshift_app::App` whose ports are the real
//! Azure adapters, pointed at loopback stand-ins. Each test says what it runs against:
//! - **REST contract**: the azure crate's loopback server ([`fake_arm`]), which follows the documented ARM and
//!   Container Instances REST behaviour (paging by `nextLink`, long-running deletes, `Retry-After`); there is no
//!   emulator for ARM, so this is the contract, not Azure itself;
//! - **Azurite**: the real Azure Storage emulator ([`azurite`]), required when `NIGHTSHIFT_REQUIRE_AZURITE` is set.
//!
//! The fake and the Azurite launcher are the azure crate's own test helpers, included by path rather than copied,
//! so both test binaries speak to the same contract.

// The helpers serve the azure crate's tests too: this binary uses only part of them.
#[allow(dead_code)]
#[path = "../../../azure/tests/azure/azurite.rs"]
mod azurite;
#[allow(dead_code)]
#[path = "../../../azure/tests/azure/fake_arm.rs"]
mod fake_arm;

mod doctor;
mod job_exit;
mod journal;
mod sweep;

use nightshift_app::{App, Ports, Settings};
use nightshift_azure::{AciSettings, ArmClient, RetryPolicy, StaticToken};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The `nightshift-managed-by` value of the app under test.
pub const INSTANCE: &str = "nightshift-ci";

/// Fast retries, so a `Retry-After: 1` is the longest wait a test sees (production waits seconds between tries).
pub fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(2),
        operation_deadline: Duration::from_secs(20),
        default_poll_interval: Duration::from_millis(10),
    }
}

/// An ARM client on the fake, with a static token (as `NIGHTSHIFT_ARM_TOKEN` gives in development).
pub fn arm_client(fake: &fake_arm::FakeArm) -> ArmClient {
    ArmClient::new(
        &fake.base,
        fake_arm::SUBSCRIPTION,
        Arc::new(StaticToken::new("static-arm-token-for-app-tests")),
    )
    .with_retry_policy(quick_policy())
}

/// Where the step containers run, as the Azure settings would give it.
pub fn aci_settings() -> AciSettings {
    AciSettings {
        resource_group: "nightshift-jobs".into(),
        location: "westeurope".into(),
        runner_image: "contoso.azurecr.io/nightshift-runner:1.0.0".into(),
        identity_id: "/subscriptions/s/resourceGroups/ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/runner".into(),
        identity_client_id: "11111111-2222-3333-4444-555555555555".into(),
        registry_server: Some("contoso.azurecr.io".into()),
        key_vault_url: Some("https://contoso.vault.azure.net".into()),
    }
}

/// An app on a temporary state directory with `catalog` as its only catalog file. The local wiring provides the
/// store, bus and the rest; `adapt` swaps in the Azure adapters under test.
pub struct TestApp {
    pub app: App,
    _dir: tempfile::TempDir,
}

pub fn spawn_app(catalog: &str, extra: &[(&str, &str)], adapt: impl FnOnce(&mut Ports)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog_dir = dir.path().join("catalog");
    std::fs::create_dir_all(&catalog_dir).expect("catalog dir");
    std::fs::write(catalog_dir.join("shop.yaml"), catalog).expect("catalog file");
    // The use cases validate the stacks and playbooks the catalog names: the fixture repository holds them, empty
    // (these tests never run Terraform or Ansible).
    let repo = dir.path().join("repo");
    if let Ok(c) = nightshift_app::catalog_files::load(&catalog_dir) {
        for step in c.products.values().flat_map(|p| p.steps.values()) {
            match &step.action {
                nightshift_core::catalog::Action::Terraform { stack, .. } => {
                    std::fs::create_dir_all(repo.join(stack)).expect("stack dir")
                }
                nightshift_core::catalog::Action::Ansible { playbook, .. } => {
                    let path = repo.join(playbook);
                    std::fs::create_dir_all(path.parent().expect("a parent")).expect("dir");
                    std::fs::write(path, "[]\n").expect("playbook");
                }
                nightshift_core::catalog::Action::Smoke { .. } => {}
            }
        }
    }
    let mut env: BTreeMap<&str, String> = [
        (
            "NIGHTSHIFT_STATE_DIR",
            dir.path().join("state").display().to_string(),
        ),
        ("NIGHTSHIFT_CATALOG", catalog_dir.display().to_string()),
        ("NIGHTSHIFT_REPO_ROOT", repo.display().to_string()),
        ("NIGHTSHIFT_INSTANCE", INSTANCE.to_string()),
        ("NIGHTSHIFT_RUNNER", "nightshift runner".to_string()),
    ]
    .into();
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).expect("settings");
    let mut ports = nightshift_app::wiring::local(&settings);
    ports.tfstate = None;
    adapt(&mut ports);
    TestApp {
        app: App::new(ports, settings),
        _dir: dir,
    }
}
