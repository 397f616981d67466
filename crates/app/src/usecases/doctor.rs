//! `nightshift doctor`: checks every setting, reachability and permission the current mode needs, one line each
//! with the fix. It writes only its own probe key in the store and sends no message: the Service Bus check proves
//! the send key can be read (what nightshift signs its sends with), not that a message was queued.

use crate::service::App;
use crate::settings::Mode;
use nightshift_core::ports::Precondition;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// What was found (never a secret value).
    pub detail: String,
    /// What to do when it failed.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    pub mode: String,
    pub ok: bool,
    pub checks: Vec<Check>,
}

fn pass(name: &str, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: true,
        detail: detail.into(),
        fix: None,
    }
}

fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        ok: false,
        detail: detail.into(),
        fix: Some(fix.into()),
    }
}

const SIGN_IN: &str = "sign-in";
const SIGN_IN_FIX: &str = "the reason above says what this credential lacks; the credential must suit where this \
     runs: NIGHTSHIFT_CREDENTIAL=azure-cli after `az login` on a workstation, workload-identity in CI \
     (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE), the managed identity (the default) on Azure \
     (docs/settings.md)";
/// The checks that call Azure with a token: when the sign-in failed, theirs failed for that reason first.
const NEEDS_SIGN_IN: [&str; 3] = [
    "store read/write",
    "resource groups list",
    "key vault get / service bus send key",
];

/// `registry/repository:tag` or `registry/repository@sha256:<digest>`; `latest` is not a version.
pub fn image_reference_problem(image: &str, registry: Option<&str>) -> Option<String> {
    let (path, version) = match image.split_once('@') {
        Some((p, d)) if d.starts_with("sha256:") && d.len() == 71 => (p, None),
        Some(_) => return Some(format!("{image:?} has a malformed digest")),
        None => match image.rsplit_once(':') {
            Some((p, tag)) if !tag.contains('/') => (p, Some(tag)),
            _ => return Some(format!("{image:?} has no tag: pin a version")),
        },
    };
    if version == Some("latest") {
        return Some(format!("{image:?} uses latest: pin a version"));
    }
    let Some((host, _)) = path.split_once('/') else {
        return Some(format!("{image:?} names no registry"));
    };
    match registry {
        Some(r) if !r.eq_ignore_ascii_case(host) => Some(format!(
            "{image:?} is not in the registry the jobs pull from ({r})"
        )),
        _ => None,
    }
}

impl App {
    /// Runs every check of the current mode; `ok` is false when any failed.
    pub async fn doctor(&self) -> DoctorReport {
        let mut checks = Vec::new();
        let mode = self.settings.mode;

        // Settings: in Azure mode, every setting some part of nightshift needs (a command reads only its own).
        if let Some(a) = &self.settings.azure {
            for need in nightshift_azure::Need::ALL {
                for name in need.settings() {
                    let set = match *name {
                        "NIGHTSHIFT_STORAGE_ACCOUNT" => !a.storage_account.is_empty(),
                        "NIGHTSHIFT_SUBSCRIPTION_ID" => !a.subscription_id.is_empty(),
                        "NIGHTSHIFT_SERVICEBUS_NAMESPACE" => !a.servicebus_namespace.is_empty(),
                        "NIGHTSHIFT_KEY_VAULT_URL" => !a.key_vault_url.is_empty(),
                        "NIGHTSHIFT_ACI_RESOURCE_GROUP" => !a.aci.resource_group.is_empty(),
                        "NIGHTSHIFT_ACI_LOCATION" => !a.aci.location.is_empty(),
                        "NIGHTSHIFT_RUNNER_IMAGE" => !a.aci.runner_image.is_empty(),
                        "NIGHTSHIFT_ACI_IDENTITY_ID" => !a.aci.identity_id.is_empty(),
                        "NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID" => !a.aci.identity_client_id.is_empty(),
                        _ => true,
                    };
                    let check = format!("setting {name}");
                    if checks.iter().any(|c: &Check| c.name == check) {
                        continue;
                    }
                    checks.push(if set {
                        pass(&check, "set")
                    } else {
                        fail(
                            &check,
                            format!("not set (needed for {need:?})"),
                            format!("set {name}: see docs/settings.md; terraform/orchestrator sets it on the function app"),
                        )
                    });
                }
            }
        }

        // Sign-in: every Azure call needs a token. When none comes, the failures after it are that, not a missing
        // permission, and their fixes say so.
        let signed_in = match &self.settings.azure {
            None => true,
            Some(a) => {
                let how = match &a.token_source {
                    nightshift_azure::TokenSource::Static(_) => "NIGHTSHIFT_ARM_TOKEN",
                    nightshift_azure::TokenSource::Credential(kind) => kind.name(),
                };
                match a
                    .token_provider()
                    .token(nightshift_azure::identity::ARM_RESOURCE)
                    .await
                {
                    Ok(_) => {
                        checks.push(pass(
                            SIGN_IN,
                            format!("{how}: a token for Azure Resource Manager"),
                        ));
                        true
                    }
                    Err(e) => {
                        checks.push(fail(SIGN_IN, format!("{how}: {e}"), SIGN_IN_FIX));
                        false
                    }
                }
            }
        };

        checks.push(match self.catalog() {
            Ok(c) => pass("catalog", format!("{} product(s) load", c.products.len())),
            Err(e) => fail(
                "catalog",
                e.to_string(),
                "run `nightshift validate` and fix what it names",
            ),
        });

        // Store read/write: the probe key is nightshift's own, overwritten and deleted each time.
        let key = format!("doctor/{}.probe", self.settings.instance);
        let store = self.repo.store();
        let probe = async {
            store
                .put(&key, b"nightshift doctor".to_vec(), Precondition::None)
                .await?;
            let back = store.get(&key).await?;
            store.delete(&key).await?;
            Ok::<bool, nightshift_core::ports::PortError>(
                back.is_some_and(|v| v.bytes == b"nightshift doctor"),
            )
        };
        checks.push(match probe.await {
            Ok(true) => pass("store read/write", format!("wrote, read and deleted {key}")),
            Ok(false) => fail("store read/write", format!("{key} read back differently"), "check the storage account and container settings"),
            Err(e) => fail(
                "store read/write",
                e.to_string(),
                match mode {
                    Mode::Azure => "grant Storage Blob Data Contributor on the journals container (terraform/README.md, permission model) and check NIGHTSHIFT_STORAGE_ACCOUNT/_CONTAINER",
                    Mode::Local => "check that the state directory (--state-dir) is writable",
                },
            ),
        });

        checks.push(match self.ports.cloud.list_managed(&self.settings.instance).await {
            Ok(groups) => pass("resource groups list", format!("{} group(s) of instance {}", groups.len(), self.settings.instance)),
            Err(e) => fail(
                "resource groups list",
                e.to_string(),
                match mode {
                    Mode::Azure => "grant the nightshift-sweeper role (or Reader) on the environments subscription, and check NIGHTSHIFT_SUBSCRIPTION_ID / NIGHTSHIFT_ENVIRONMENTS_SUBSCRIPTION_ID",
                    Mode::Local => "check that the state directory (--state-dir) is readable",
                },
            ),
        });

        if let Some(a) = &self.settings.azure {
            let secret = &a.servicebus_key_secret;
            checks.push(match self.ports.secrets.get(secret).await {
                Ok(_) => pass("key vault get / service bus send key", format!("secret {secret} is readable (the key nightshift signs its sends with)")),
                Err(e) => fail(
                    "key vault get / service bus send key",
                    e.to_string(),
                    format!("grant Key Vault Secrets User on secret {secret} and check NIGHTSHIFT_KEY_VAULT_URL; terraform/orchestrator writes the secret"),
                ),
            });
            checks.push(match image_reference_problem(&a.aci.runner_image, a.aci.registry_server.as_deref()) {
                None => pass("runner image reference", a.aci.runner_image.clone()),
                Some(why) => fail("runner image reference", why, "set NIGHTSHIFT_RUNNER_IMAGE to <registry>/nightshift-runner:<version> (terraform/README.md, step 6)"),
            });
        }

        if !signed_in {
            for c in checks
                .iter_mut()
                .filter(|c| !c.ok && NEEDS_SIGN_IN.contains(&c.name.as_str()))
            {
                if let Some(fix) = &c.fix {
                    c.fix = Some(format!("sign in first (the {SIGN_IN} check), then: {fix}"));
                }
            }
        }

        DoctorReport {
            mode: match mode {
                Mode::Local => "local",
                Mode::Azure => "azure",
            }
            .into(),
            ok: checks.iter().all(|c| c.ok),
            checks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::image_reference_problem;

    #[test]
    fn a_runner_image_must_be_pinned_and_in_the_jobs_registry() {
        let registry = Some("contoso.azurecr.io");
        assert_eq!(
            image_reference_problem("contoso.azurecr.io/nightshift-runner:1.4.0", registry),
            None
        );
        let digest = format!(
            "contoso.azurecr.io/nightshift-runner@sha256:{}",
            "a".repeat(64)
        );
        assert_eq!(image_reference_problem(&digest, registry), None);
        for bad in [
            "contoso.azurecr.io/nightshift-runner:latest",
            "contoso.azurecr.io/nightshift-runner",
            "nightshift-runner:1.4.0",
            "other.azurecr.io/nightshift-runner:1.4.0",
        ] {
            assert!(
                image_reference_problem(bad, registry).is_some(),
                "{bad} accepted"
            );
        }
    }
}
