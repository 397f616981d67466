//! `App::doctor` in Azure mode against the loopback fakes that follow the documented contracts (ARM resource-group
//! listing, Key Vault secret GET): no emulator exists for either. The store is the local one (its read/write probe
//! is the same code path on Blob Storage).

use crate::fake_arm::{spawn_fake_arm, FakeArm, Scripted, SUBSCRIPTION};
use crate::{arm_client, spawn_app, TestApp};
use nightshift_azure::{ArmCloud, KeyVaultSecrets, StaticToken};
use std::sync::Arc;

const CATALOG: &str = r#"
schema: nightshift.catalog/v1
product: shop
platform: azure
steps:
  app: { terraform: { stack: stacks/app } }
environments:
  pr: { kind: pull-request }
"#;

fn azure_settings(fake: &FakeArm, runner_image: &str) -> Vec<(&'static str, String)> {
    vec![
        ("NIGHTSHIFT_MODE", "azure".into()),
        ("NIGHTSHIFT_SUBSCRIPTION_ID", SUBSCRIPTION.into()),
        ("NIGHTSHIFT_ARM_ENDPOINT", fake.base.clone()),
        ("NIGHTSHIFT_ARM_TOKEN", "t".into()),
        ("NIGHTSHIFT_STORAGE_ACCOUNT", "nsstore".into()),
        ("NIGHTSHIFT_SERVICEBUS_NAMESPACE", "contoso-ns".into()),
        ("NIGHTSHIFT_KEY_VAULT_URL", fake.base.clone()),
        ("NIGHTSHIFT_ACI_RESOURCE_GROUP", "rg-nightshift-jobs".into()),
        ("NIGHTSHIFT_ACI_LOCATION", "westeurope".into()),
        ("NIGHTSHIFT_RUNNER_IMAGE", runner_image.into()),
        ("NIGHTSHIFT_ACI_IDENTITY_ID", "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/jobs".into()),
        ("NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID", "cid".into()),
        ("NIGHTSHIFT_ACI_REGISTRY_SERVER", "contoso.azurecr.io".into()),
    ]
}

fn app_on(fake: &FakeArm, runner_image: &str) -> TestApp {
    app_with(fake, azure_settings(fake, runner_image))
}

fn app_with(fake: &FakeArm, env: Vec<(&'static str, String)>) -> TestApp {
    let extra: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let arm = arm_client(fake);
    let vault = fake.base.clone();
    spawn_app(CATALOG, &extra, |ports| {
        ports.cloud = Arc::new(ArmCloud::new(arm));
        ports.secrets = Arc::new(KeyVaultSecrets::new(
            &vault,
            Arc::new(StaticToken::new("t")),
        ));
    })
}

fn failed(report: &nightshift_app::usecases::doctor::DoctorReport) -> Vec<String> {
    report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| {
            format!(
                "{}: {} -> {}",
                c.name,
                c.detail,
                c.fix.clone().unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn contract_doctor_passes_every_check_when_settings_reachability_and_permissions_are_right() {
    let fake = spawn_fake_arm().await;
    fake.set(|s| {
        s.secrets
            .insert("servicebus-send-key".into(), "a-key".into());
    });
    let t = app_on(&fake, "contoso.azurecr.io/nightshift-runner:1.4.0");

    let report = t.app.doctor().await;

    assert!(report.ok, "{:#?}", failed(&report));
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    for expected in [
        "setting NIGHTSHIFT_ACI_RESOURCE_GROUP",
        "sign-in",
        "store read/write",
        "resource groups list",
        "key vault get / service bus send key",
        "runner image reference",
    ] {
        assert!(names.contains(&expected), "no {expected:?} in {names:?}");
    }
    assert!(
        !format!("{report:?}").contains("a-key"),
        "the secret's value is never shown"
    );
    assert_eq!(fake.requests_to("GET", "/resourcegroups").len(), 1);
}

#[tokio::test]
async fn contract_doctor_names_each_failure_with_its_fix() {
    let fake = spawn_fake_arm().await;
    // No send key in the vault, a listing the identity may not do, an unpinned image.
    fake.script(
        "GET",
        &format!("/subscriptions/{SUBSCRIPTION}/resourcegroups"),
        vec![Scripted {
            status: 403,
            headers: vec![("content-type", "application/json".into())],
            body:
                r#"{"error":{"code":"AuthorizationFailed","message":"no read on resource groups"}}"#
                    .into(),
        }],
    );
    let t = app_on(&fake, "contoso.azurecr.io/nightshift-runner:latest");

    let report = t.app.doctor().await;

    assert!(!report.ok);
    let failures = failed(&report);
    assert_eq!(failures.len(), 3, "{failures:#?}");
    assert!(
        failures[0].starts_with("resource groups list")
            && failures[0].contains("nightshift-sweeper"),
        "{failures:#?}"
    );
    assert!(
        failures[1].starts_with("key vault get") && failures[1].contains("Key Vault Secrets User"),
        "{failures:#?}"
    );
    assert!(
        failures[2].starts_with("runner image reference") && failures[2].contains("latest"),
        "{failures:#?}"
    );
}

#[tokio::test]
async fn contract_doctor_checks_the_sign_in_first_and_points_the_failures_behind_it_to_it() {
    let fake = spawn_fake_arm().await;
    fake.set(|s| {
        s.secrets
            .insert("servicebus-send-key".into(), "a-key".into());
    });
    fake.script(
        "GET",
        &format!("/subscriptions/{SUBSCRIPTION}/resourcegroups"),
        vec![Scripted {
            status: 401,
            headers: vec![("content-type", "application/json".into())],
            body: r#"{"error":{"code":"InvalidAuthenticationToken","message":"no token"}}"#.into(),
        }],
    );
    // CI with workload identity whose federated token file was never written: no token for anything.
    let dir = tempfile::tempdir().unwrap();
    let mut env = azure_settings(&fake, "contoso.azurecr.io/nightshift-runner:1.4.0");
    env.retain(|(k, _)| *k != "NIGHTSHIFT_ARM_TOKEN");
    env.extend([
        ("NIGHTSHIFT_CREDENTIAL", "workload-identity".to_string()),
        ("AZURE_TENANT_ID", "tenant-1".to_string()),
        ("AZURE_CLIENT_ID", "client-1".to_string()),
        (
            "AZURE_FEDERATED_TOKEN_FILE",
            dir.path().join("never-written").display().to_string(),
        ),
    ]);
    let t = app_with(&fake, env);

    let report = t.app.doctor().await;

    let check = |name: &str| {
        report
            .checks
            .iter()
            .position(|c| c.name == name)
            .map(|i| (i, &report.checks[i]))
            .unwrap_or_else(|| panic!("no {name:?} check in {:#?}", failed(&report)))
    };
    let (sign_in_at, sign_in) = check("sign-in");
    assert!(!sign_in.ok, "{sign_in:?}");
    assert!(
        sign_in.detail.contains("workload identity")
            && sign_in.detail.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{sign_in:?}"
    );
    assert!(
        sign_in
            .fix
            .as_deref()
            .unwrap_or_default()
            .contains("NIGHTSHIFT_CREDENTIAL"),
        "{sign_in:?}"
    );
    let (groups_at, groups) = check("resource groups list");
    assert!(sign_in_at < groups_at && sign_in_at < check("store read/write").0);
    assert!(
        groups
            .fix
            .as_deref()
            .unwrap_or_default()
            .starts_with("sign in first"),
        "a failure behind a failed sign-in points to it: {groups:?}"
    );
}

#[tokio::test]
async fn doctor_reports_a_missing_setting_instead_of_refusing_to_start() {
    let fake = spawn_fake_arm().await;
    fake.set(|s| {
        s.secrets
            .insert("servicebus-send-key".into(), "a-key".into());
    });
    let mut env = azure_settings(&fake, "contoso.azurecr.io/nightshift-runner:1.4.0");
    env.retain(|(k, _)| *k != "NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID");
    let dir = tempfile::tempdir().unwrap();
    env.push(("NIGHTSHIFT_STATE_DIR", dir.path().display().to_string()));
    env.push((
        "NIGHTSHIFT_CATALOG",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../catalog").to_string(),
    ));
    let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    assert!(
        nightshift_app::Settings::from_lookup(lookup).is_err(),
        "the handler would refuse"
    );

    let settings =
        nightshift_app::Settings::from_lookup_for(lookup, &[]).expect("doctor reads what there is");
    let mut ports = nightshift_app::wiring::local(&settings);
    ports.cloud = Arc::new(ArmCloud::new(arm_client(&fake)));
    ports.secrets = Arc::new(KeyVaultSecrets::new(
        &fake.base,
        Arc::new(StaticToken::new("t")),
    ));
    let app = nightshift_app::App::new(ports, settings);
    let report = app.doctor().await;

    let failures = failed(&report);
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert!(
        failures[0].starts_with("setting NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID"),
        "{failures:#?}"
    );
    assert!(failures[0].contains("docs/settings.md"), "{failures:#?}");
}
