//! The Azure Terraform (terraform/stacks, terraform/modules, terraform/orchestrator) against what a real
//! subscription demands, read with hcl-rs (provider plugins cannot be downloaded here, so no plan runs; the name
//! limits are checked by `terraform test` in terraform/modules/naming, run by .ci/check-terraform.sh):
//!
//! - the sweeper may delete every resource type the stacks create (Azure checks each resource of a group);
//! - the jobs hold no provider registration, no group delete, no vault purge, cannot reach the orchestrator's
//!   identities, state or other secrets, and may grant Key Vault roles to service principals only;
//! - custom role names are unique per tenant; global names come from the naming module (instance in the hash);
//! - no generated password in the state; every vault waits for RBAC before its secrets are written;
//! - the health-check path names a function that exists; environments may live in another subscription.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// Every `*.tf` file under `dir` (recursively, `.terraform` excluded), relative path -> parsed body.
fn tf_files(dir: &Path) -> BTreeMap<String, hcl::Body> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != ".terraform") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|x| x == "tf") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(dir, &mut paths);
    let base = root();
    paths
        .into_iter()
        .map(|p| {
            let shown = p.strip_prefix(&base).unwrap_or(&p).display().to_string();
            let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{shown}: {e}"));
            let body = hcl::parse(&text).unwrap_or_else(|e| panic!("{shown}: not valid HCL: {e}"));
            (shown, body)
        })
        .collect()
}

fn label(block: &hcl::Block, i: usize) -> &str {
    block.labels().get(i).map(|l| l.as_str()).unwrap_or("")
}

fn attr<'a>(body: &'a hcl::Body, key: &str) -> Option<&'a hcl::Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn text(expr: &hcl::Expression) -> String {
    hcl::format::to_string(expr)
        .expect("formattable")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn strings(expr: &hcl::Expression) -> Vec<String> {
    match expr {
        hcl::Expression::Array(items) => items
            .iter()
            .filter_map(|e| match e {
                hcl::Expression::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        other => panic!("expected a list of strings, got {}", text(other)),
    }
}

/// `(file, block)` of every block with this identifier and these leading labels.
fn blocks<'a>(
    files: &'a BTreeMap<String, hcl::Body>,
    identifier: &str,
    labels: &[&str],
) -> Vec<(&'a str, &'a hcl::Block)> {
    files
        .iter()
        .flat_map(|(f, body)| body.blocks().map(move |b| (f.as_str(), b)))
        .filter(|(_, b)| {
            b.identifier() == identifier
                && labels.iter().enumerate().all(|(i, l)| label(b, i) == *l)
        })
        .collect()
}

fn one<'a>(
    files: &'a BTreeMap<String, hcl::Body>,
    identifier: &str,
    labels: &[&str],
) -> &'a hcl::Block {
    let found = blocks(files, identifier, labels);
    assert_eq!(
        found.len(),
        1,
        "{identifier} {labels:?}: expected one block"
    );
    found[0].1
}

/// Every `locals` entry of these files.
fn locals(files: &BTreeMap<String, hcl::Body>) -> BTreeMap<String, hcl::Expression> {
    blocks(files, "locals", &[])
        .into_iter()
        .flat_map(|(_, b)| b.body().attributes())
        .map(|a| (a.key().to_string(), a.expr().clone()))
        .collect()
}

fn orchestrator() -> BTreeMap<String, hcl::Body> {
    tf_files(&root().join("terraform/orchestrator"))
}

/// What the sweeper needs to delete a group holding a resource of this type: the ARM delete action of the
/// top-level resource type, or `None` with the reason it needs nothing.
fn delete_needed(resource_type: &str) -> Option<Result<&'static str, &'static str>> {
    Some(match resource_type {
        "azurerm_resource_group" => Ok("Microsoft.Resources/subscriptions/resourceGroups/delete"),
        "azurerm_key_vault" => Ok("Microsoft.KeyVault/vaults/delete"),
        "azurerm_log_analytics_workspace" => Ok("Microsoft.OperationalInsights/workspaces/delete"),
        "azurerm_application_insights" => Ok("Microsoft.Insights/components/delete"),
        "azurerm_service_plan" => Ok("Microsoft.Web/serverfarms/delete"),
        "azurerm_linux_web_app" => Ok("Microsoft.Web/sites/delete"),
        "azurerm_static_web_app" => Ok("Microsoft.Web/staticSites/delete"),
        "azurerm_app_service_managed_certificate" => Ok("Microsoft.Web/certificates/delete"),
        "azurerm_cosmosdb_account" => Ok("Microsoft.DocumentDB/databaseAccounts/delete"),
        "azurerm_mssql_server" => Ok("Microsoft.Sql/servers/delete"),
        // Listed as a resource of its own in the group.
        "azurerm_mssql_database" => Ok("Microsoft.Sql/servers/databases/delete"),
        "azurerm_user_assigned_identity" => {
            Ok("Microsoft.ManagedIdentity/userAssignedIdentities/delete")
        }
        "azurerm_key_vault_secret" | "azurerm_key_vault_key" => {
            Err("data-plane child of the vault")
        }
        "azurerm_cosmosdb_mongo_database" | "azurerm_cosmosdb_mongo_collection" => {
            Err("child of the Cosmos DB account")
        }
        "azurerm_mssql_firewall_rule" | "azurerm_mssql_server_extended_auditing_policy" => {
            Err("child of the SQL server")
        }
        "azurerm_static_web_app_custom_domain" => Err("child of the Static Web App"),
        "azurerm_app_service_custom_hostname_binding"
        | "azurerm_app_service_certificate_binding" => Err("child of the site"),
        "azurerm_role_assignment" | "azurerm_monitor_diagnostic_setting" => {
            Err("extension resource: not part of the group's resources")
        }
        // Only persistent environments lock their group, and the sweep never deletes those: the lock must stop it.
        "azurerm_management_lock" => Err("persistent environments only, never swept"),
        t if !t.starts_with("azurerm_") => Err("not an Azure resource"),
        _ => return None,
    })
}

fn stack_resource_types() -> BTreeSet<String> {
    let mut files = tf_files(&root().join("terraform/stacks"));
    files.extend(tf_files(&root().join("terraform/modules")));
    blocks(&files, "resource", &[])
        .into_iter()
        .map(|(_, b)| label(b, 0).to_string())
        .collect()
}

#[test]
fn the_sweeper_may_delete_every_resource_type_the_stacks_create() {
    let tf = orchestrator();
    let sweeper = one(&tf, "resource", &["azurerm_role_definition", "sweeper"]);
    let permissions = sweeper
        .body()
        .blocks()
        .find(|b| b.identifier() == "permissions")
        .expect("permissions");
    let actions = text(attr(permissions.body(), "actions").expect("actions"));
    let mut granted: BTreeSet<String> = BTreeSet::new();
    let all_locals = locals(&tf);
    for s in strings(&all_locals["sweeper_resource_delete_actions"]) {
        granted.insert(s);
    }
    assert!(
        actions.contains("local.sweeper_resource_delete_actions"),
        "the sweeper role must include local.sweeper_resource_delete_actions: {actions}"
    );
    let group_delete = "Microsoft.Resources/subscriptions/resourceGroups/delete";
    assert!(
        actions.contains(group_delete),
        "the sweeper lacks {group_delete}"
    );
    granted.insert(group_delete.to_string());

    let mut missing = Vec::new();
    let mut unknown = Vec::new();
    for t in stack_resource_types() {
        match delete_needed(&t) {
            Some(Ok(action)) if !granted.contains(action) => missing.push(format!("{t}: {action}")),
            Some(_) => {}
            None => unknown.push(t),
        }
    }
    assert!(
        unknown.is_empty(),
        "the stacks create resource types this test does not know: {unknown:?}; add each to delete_needed() and \
         its delete action to sweeper_resource_delete_actions in terraform/orchestrator/main.rbac.tf"
    );
    assert!(
        missing.is_empty(),
        "the sweeper could not delete a group holding these (Azure needs delete on every resource): {missing:?}"
    );
}

#[test]
fn the_stacks_leave_provider_registration_to_the_orchestrator_which_registers_every_namespace_they_use(
) {
    for (file, body) in tf_files(&root().join("terraform/stacks")) {
        for p in body
            .blocks()
            .filter(|b| b.identifier() == "provider" && label(b, 0) == "azurerm")
        {
            let value = attr(p.body(), "resource_provider_registrations").map(text);
            assert_eq!(
                value.as_deref(),
                Some("\"none\""),
                "{file}: the azurerm provider must set resource_provider_registrations = \"none\" (jobs hold no */register/action)"
            );
        }
    }
    let tf = orchestrator();
    let environments = blocks(&tf, "provider", &["azurerm"])
        .into_iter()
        .map(|(_, b)| b)
        .find(|b| attr(b.body(), "alias").map(text).as_deref() == Some("\"environments\""))
        .expect("terraform/orchestrator: provider azurerm with alias = \"environments\"");
    assert_eq!(
        attr(environments.body(), "resource_providers_to_register")
            .map(text)
            .as_deref(),
        Some("local.environment_resource_providers")
    );
    let registered: BTreeSet<String> = strings(&locals(&tf)["environment_resource_providers"])
        .into_iter()
        .collect();
    let needed: BTreeSet<String> = stack_resource_types()
        .iter()
        .filter_map(|t| delete_needed(t).and_then(Result::ok))
        .map(|a| a.split('/').next().unwrap_or_default().to_string())
        .filter(|ns| ns != "Microsoft.Resources")
        .collect();
    let missing: Vec<_> = needed.difference(&registered).collect();
    assert!(
        missing.is_empty(),
        "resource providers never registered: {missing:?}"
    );
}

#[test]
fn custom_role_names_carry_a_hash_of_the_subscription_and_the_instance() {
    let tf = orchestrator();
    let l = locals(&tf);
    let suffix = text(&l["role_name_suffix"]);
    let hash = text(&l["name_hash"]);
    assert!(
        suffix.contains("local.name_hash") && suffix.contains("var.instance_name"),
        "{suffix}"
    );
    assert!(
        hash.contains("subscription_id") && hash.contains("var.instance_name"),
        "{hash}"
    );
    let definitions = blocks(&tf, "resource", &["azurerm_role_definition"]);
    assert!(definitions.len() >= 3);
    for (file, d) in definitions {
        let name = text(attr(d.body(), "name").expect("name"));
        assert!(
            name.contains("local.role_name_suffix"),
            "{file}: role definition {} is named {name}: role names are unique per tenant, add local.role_name_suffix",
            label(d, 1)
        );
    }
}

#[test]
fn the_jobs_role_cannot_delete_groups_purge_vaults_or_touch_the_orchestrators_identities_and_lock()
{
    let tf = orchestrator();
    let role = one(
        &tf,
        "resource",
        &["azurerm_role_definition", "environments"],
    );
    let permissions = role
        .body()
        .blocks()
        .find(|b| b.identifier() == "permissions")
        .expect("permissions");
    let actions = text(attr(permissions.body(), "actions").expect("actions"));
    let variable = one(&tf, "variable", &["environment_resource_actions"]);
    let defaults = strings(attr(variable.body(), "default").expect("default"));
    for forbidden in [
        "resourceGroups/delete",
        "deletedVaults/purge",
        "/register/action",
    ] {
        assert!(
            !actions.contains(forbidden),
            "the jobs role grants {forbidden}: {actions}"
        );
        assert!(
            !defaults.iter().any(|a| a.contains(forbidden)),
            "environment_resource_actions grants {forbidden}"
        );
    }
    let not_actions = strings(&locals(&tf)["jobs_not_actions"]);
    assert_eq!(
        attr(permissions.body(), "not_actions").map(text).as_deref(),
        Some("local.jobs_not_actions")
    );
    for needed in [
        "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
        "Microsoft.Authorization/locks/delete",
        "Microsoft.Web/sites/host/listkeys/action",
    ] {
        assert!(
            not_actions.iter().any(|a| a == needed),
            "jobs_not_actions lacks {needed}"
        );
    }
    let lock = one(
        &tf,
        "resource",
        &["azurerm_management_lock", "orchestrator"],
    );
    assert_eq!(
        attr(lock.body(), "scope").map(text).as_deref(),
        Some("azurerm_resource_group.this.id")
    );
    assert_eq!(
        attr(lock.body(), "lock_level").map(text).as_deref(),
        Some("\"CanNotDelete\"")
    );
}

#[test]
fn the_jobs_may_grant_key_vault_roles_to_service_principals_only() {
    let tf = orchestrator();
    let condition = text(&locals(&tf)["jobs_rbac_condition"]);
    for side in ["@Request", "@Resource"] {
        assert!(
            condition.contains(&format!(
                "{side}[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase 'ServicePrincipal'"
            )),
            "no principal-type condition on {side}: {condition}"
        );
    }
    let assignment = one(
        &tf,
        "resource",
        &["azurerm_role_assignment", "jobs_rbac_admin"],
    );
    assert_eq!(
        attr(assignment.body(), "condition").map(text).as_deref(),
        Some("local.jobs_rbac_condition")
    );
}

#[test]
fn the_jobs_cannot_reach_the_orchestrators_own_state_and_old_state_versions_expire() {
    let tf = orchestrator();
    let l = locals(&tf);
    let containers = text(&l["containers"]);
    assert!(containers.contains("orchestrator-state"), "{containers}");
    let jobs_state = one(&tf, "resource", &["azurerm_role_assignment", "jobs_state"]);
    let for_each = text(attr(jobs_state.body(), "for_each").expect("for_each"));
    assert!(
        !for_each.contains("orchestrator-state") && for_each.contains("tfstate"),
        "{for_each}"
    );
    for (file, ra) in blocks(&tf, "resource", &["azurerm_role_assignment"]) {
        let principal = attr(ra.body(), "principal_id")
            .map(text)
            .unwrap_or_default();
        let scope = attr(ra.body(), "scope").map(text).unwrap_or_default();
        assert!(
            !(principal.contains("identity.jobs")
                && scope.contains("azurerm_storage_account.this")),
            "{file}: {} gives the jobs the whole storage account",
            label(ra, 1)
        );
    }
    let readme = fs::read_to_string(root().join("terraform/README.md")).expect("README");
    assert!(
        readme.contains("-backend-config=container_name=orchestrator-state"),
        "terraform/README.md must migrate the orchestrator's state into orchestrator-state"
    );

    let policy = one(
        &tf,
        "resource",
        &["azurerm_storage_management_policy", "state_versions"],
    );
    let policy_text = hcl::format::to_string(policy.body()).expect("formattable");
    assert!(
        policy_text.contains("delete_after_days_since_creation"),
        "{policy_text}"
    );
    assert!(
        policy_text.contains("tfstate") && policy_text.contains("orchestrator-state"),
        "{policy_text}"
    );
}

/// Secret names the catalog's Azure products ask for (`secrets:` values).
fn catalog_secret_names() -> BTreeSet<String> {
    let catalog =
        nightshift_app::catalog_files::load(&root().join("catalog")).expect("catalog loads");
    catalog
        .products
        .values()
        .filter(|p| p.platform == nightshift_core::catalog::Platform::Azure)
        .flat_map(|p| p.steps.values())
        .flat_map(|s| s.secrets.values().cloned())
        .collect()
}

#[test]
fn the_jobs_read_exactly_the_secrets_the_catalog_names_and_never_the_whole_vault() {
    let tf = orchestrator();
    let variable = one(&tf, "variable", &["step_secret_names"]);
    let declared: BTreeSet<String> = strings(attr(variable.body(), "default").expect("default"))
        .into_iter()
        .collect();
    let named = catalog_secret_names();
    assert!(
        !named.is_empty(),
        "the Azure catalog names no secret: the check would be empty"
    );
    let undeclared: Vec<_> = named.difference(&declared).collect();
    assert!(
        undeclared.is_empty(),
        "the catalog names secrets the jobs may not read: {undeclared:?}; add them to step_secret_names"
    );

    let vault = one(&tf, "module", &["key_vault"]);
    let grants = text(attr(vault.body(), "role_assignments").expect("role_assignments"));
    assert!(
        !grants.contains("identity.jobs"),
        "the jobs hold a vault-wide role: {grants}"
    );
    let per_secret = one(
        &tf,
        "resource",
        &["azurerm_role_assignment", "jobs_secrets"],
    );
    let scope = text(attr(per_secret.body(), "scope").expect("scope"));
    assert_eq!(scope, "each.value");
    let for_each = text(attr(per_secret.body(), "for_each").expect("for_each"));
    assert!(
        for_each.contains("azurerm_key_vault_secret.step")
            && for_each.contains("servicebus_send_key"),
        "{for_each}"
    );
}

#[test]
fn no_generated_password_reaches_the_state_and_write_only_arguments_carry_it() {
    let files = tf_files(&root().join("terraform"));
    let persisted = blocks(&files, "resource", &["random_password"]);
    assert!(
        persisted.is_empty(),
        "resource random_password keeps its result in the state: {:?}; use ephemeral \"random_password\"",
        persisted.iter().map(|(f, _)| f).collect::<Vec<_>>()
    );
    let modules = tf_files(&root().join("terraform/modules/mssql"));
    let server = one(&modules, "resource", &["azurerm_mssql_server", "this"]);
    assert!(attr(server.body(), "administrator_login_password").is_none());
    assert_eq!(
        attr(server.body(), "administrator_login_password_wo")
            .map(text)
            .as_deref(),
        Some("ephemeral.random_password.administrator.result")
    );
    for (file, s) in blocks(&files, "resource", &["azurerm_key_vault_secret"]) {
        if let Some(v) = attr(s.body(), "value") {
            let v = text(v);
            assert!(
                !v.contains("random_password") && !v.contains("ephemeral."),
                "{file}: {} writes {v} through `value` (kept in the state): use value_wo",
                label(s, 1)
            );
        }
    }
    // A step secret given at apply time (the SendGrid key) goes to the vault write-only too.
    let sendgrid = tf_files(&root().join("terraform/modules/sendgrid-secret"));
    let secret = one(&sendgrid, "resource", &["azurerm_key_vault_secret", "this"]);
    assert!(
        attr(secret.body(), "value").is_none(),
        "the SendGrid key would be kept in the state"
    );
    assert_eq!(
        attr(secret.body(), "value_wo").map(text).as_deref(),
        Some("var.value")
    );
    // Write-only arguments need Terraform 1.11 wherever they are used.
    for dir in [
        "terraform/modules/mssql",
        "terraform/modules/sendgrid-secret",
        "terraform/stacks/orthense/data-sql",
        "terraform/stacks/orthense/foundation",
        "terraform/orchestrator",
    ] {
        let tf = tf_files(&root().join(dir));
        let terraform = one(&tf, "terraform", &[]);
        let version = attr(terraform.body(), "required_version")
            .map(text)
            .unwrap_or_default();
        assert_eq!(version, "\">= 1.11\"", "{dir}: required_version {version}");
    }
}

#[test]
fn every_key_vault_makes_its_deployer_secrets_officer_and_waits_for_rbac_before_secrets() {
    let files = tf_files(&root().join("terraform/modules/key-vault"));
    let deployer = one(&files, "resource", &["azurerm_role_assignment", "deployer"]);
    assert!(
        attr(deployer.body(), "count").is_none() && attr(deployer.body(), "for_each").is_none()
    );
    assert_eq!(
        attr(deployer.body(), "role_definition_name")
            .map(text)
            .as_deref(),
        Some("\"Key Vault Secrets Officer\"")
    );
    assert_eq!(
        attr(deployer.body(), "principal_id").map(text).as_deref(),
        Some("data.azurerm_client_config.current.object_id")
    );
    let wait = one(
        &files,
        "resource",
        &["time_sleep", "wait_for_rbac_before_secret_operations"],
    );
    let triggers = hcl::format::to_string(wait.body()).expect("formattable");
    assert!(
        triggers.contains("azurerm_role_assignment.deployer")
            && triggers.contains("azurerm_role_assignment.this"),
        "the wait must follow every role assignment: {triggers}"
    );
    for output in ["resource_id", "uri"] {
        let o = one(&files, "output", &[output]);
        let depends = attr(o.body(), "depends_on").map(text).unwrap_or_default();
        assert!(
            depends.contains("time_sleep.wait_for_rbac_before_secret_operations"),
            "output {output} must wait for RBAC propagation: depends_on = {depends}"
        );
    }
}

#[test]
fn every_stack_takes_its_names_from_the_naming_module_with_the_instance_in_the_hash() {
    let stacks = root().join("terraform/stacks/orthense");
    let mut checked = 0;
    for entry in fs::read_dir(&stacks).expect("stacks") {
        let dir = entry.expect("entry").path();
        if !dir.is_dir() || dir.file_name().is_some_and(|n| n == "_shared") {
            continue;
        }
        let files = tf_files(&dir);
        let naming = one(&files, "module", &["naming"]);
        assert_eq!(
            attr(naming.body(), "source").map(text).as_deref(),
            Some("\"../../../modules/naming\"")
        );
        assert_eq!(
            attr(naming.body(), "instance").map(text).as_deref(),
            Some("var.nightshift_tags[\"nightshift-managed-by\"]"),
            "{}: the instance must go into the names",
            dir.display()
        );
        for (file, body) in &files {
            let raw = hcl::format::to_string(body).expect("formattable");
            assert!(
                !raw.contains("sha1("),
                "{file}: a hash of its own; use module.naming"
            );
        }
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} stacks");
    let spas = tf_files(&stacks.join("spas"));
    let spa = one(&spas, "module", &["spa"]);
    assert_eq!(
        attr(spa.body(), "name").map(text).as_deref(),
        Some("module.naming.static_web_apps[each.key]")
    );
}

#[test]
fn a_health_check_path_names_an_anonymous_http_function_that_exists() {
    let tf = orchestrator();
    let app = one(&tf, "resource", &["azurerm_linux_function_app", "this"]);
    let site = app
        .body()
        .blocks()
        .find(|b| b.identifier() == "site_config")
        .expect("site_config");
    let Some(path) = attr(site.body(), "health_check_path").map(text) else {
        // Unset: App Service probes nothing (H7 sets /api/health together with the function).
        return;
    };
    let route = path
        .trim_matches('"')
        .trim_start_matches("/api/")
        .to_string();
    let definitions = root().join("function-definitions");
    let found = fs::read_dir(&definitions)
        .expect("function-definitions")
        .any(|e| {
            let dir = e.expect("entry").path();
            let Ok(json) = fs::read_to_string(dir.join("function.json")) else {
                return false;
            };
            let v: serde_json::Value = serde_json::from_str(&json).expect("function.json is JSON");
            v["bindings"].as_array().into_iter().flatten().any(|b| {
                b["type"] == "httpTrigger"
                    && b["authLevel"] == "anonymous"
                    && (b["route"].as_str() == Some(route.as_str())
                        || (b["route"].is_null()
                            && dir.file_name().is_some_and(|n| n == route.as_str())))
            })
        });
    assert!(
        found,
        "health_check_path = {path}, but no anonymous HTTP function answers it in function-definitions/: App Service would evict every instance"
    );
}

#[test]
fn the_orchestrator_lets_the_environments_live_in_another_subscription() {
    let tf = orchestrator();
    let app = one(&tf, "resource", &["azurerm_linux_function_app", "this"]);
    let raw = hcl::format::to_string(app.body()).expect("formattable");
    assert!(
        !raw.contains("environments_subscription_id"),
        "the function app still refuses environments_subscription_id"
    );
    let settings = text(&locals(&tf)["function_app_settings"]);
    for s in [
        "NIGHTSHIFT_ENVIRONMENTS_SUBSCRIPTION_ID = local.environments_subscription_id",
        "NIGHTSHIFT_TERRAFORM_SUBSCRIPTION_ID = local.environments_subscription_id",
    ] {
        assert!(settings.contains(s), "function_app_settings lacks {s}");
    }
    for r in ["sweeper", "environments"] {
        let d = one(&tf, "resource", &["azurerm_role_definition", r]);
        assert_eq!(
            attr(d.body(), "provider").map(text).as_deref(),
            Some("azurerm.environments"),
            "{r}"
        );
    }
}

#[test]
fn host_json_uses_no_legacy_forwarding_setting() {
    let host: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(root().join("host.json")).expect("host.json"))
            .expect("JSON");
    let handler = &host["customHandler"];
    assert!(
        handler.get("enableForwardingHttpRequest").is_none(),
        "enableForwardingHttpRequest is the legacy setting: use enableProxyingHttpRequest, or none"
    );
}

/// The `az` commands the deployment steps may use. The Azure CLI is not installed here, so they are listed (with
/// their documented names) instead of run: a new one fails this test until it is checked and added.
const AZ_COMMANDS: &[&str] = &[
    "login",
    "account set",
    "account show",
    "keyvault secret set",
    "acr build",
    "storage blob upload",
    "functionapp restart",
];

/// Shell commands of the numbered deployment steps: each `$(...)` substitution is a command of its own.
fn deployment_commands(readme: &str) -> (Vec<u32>, Vec<String>) {
    let section = readme
        .split("### Deploying the orchestrator, step by step")
        .nth(1)
        .expect("terraform/README.md has the deployment steps")
        .split("\nUpgrades:")
        .next()
        .unwrap_or_default();
    let numbers = section
        .lines()
        .filter_map(|l| l.split_once(". ").and_then(|(n, _)| n.parse::<u32>().ok()))
        .collect();
    let mut commands = Vec::new();
    let mut in_block = false;
    for line in section.lines().map(str::trim) {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block || line.is_empty() {
            continue;
        }
        let mut rest = line.to_string();
        while let Some(start) = rest.find("$(") {
            let end = rest[start..]
                .find(')')
                .map(|e| start + e)
                .expect("a closed $(...)");
            commands.push(rest[start + 2..end].to_string());
            rest.replace_range(start..=end, "VALUE");
        }
        commands.extend(rest.split("&&").map(|c| c.trim().to_string()));
    }
    (numbers, commands)
}

#[test]
fn the_orchestrator_deployment_steps_are_numbered_and_every_command_in_them_exists() {
    let readme = fs::read_to_string(root().join("terraform/README.md")).expect("README");
    let (numbers, commands) = deployment_commands(&readme);
    assert!(numbers.len() >= 6, "numbered steps: {numbers:?}");
    assert_eq!(
        numbers,
        (1..=numbers.len() as u32).collect::<Vec<_>>(),
        "steps numbered 1..n"
    );
    let outputs: BTreeSet<String> = blocks(&orchestrator(), "output", &[])
        .into_iter()
        .map(|(_, b)| label(b, 0).to_string())
        .collect();
    let packages: BTreeSet<String> = [
        "crates/core",
        "crates/app",
        "crates/local",
        "crates/azure",
        "crates/cli",
        "handlers",
    ]
    .iter()
    .filter_map(|d| fs::read_to_string(root().join(d).join("Cargo.toml")).ok())
    .filter_map(|t| {
        t.lines().find_map(|l| {
            l.strip_prefix("name = ")
                .map(|n| n.trim_matches('"').to_string())
        })
    })
    .collect();
    let mut checked = BTreeSet::new();
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        let Some(program) = words.first().copied() else {
            continue;
        };
        checked.insert(program.to_string());
        match program {
            "terraform" => {
                let args: Vec<&str> = words[1..]
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("-chdir="))
                    .collect();
                let sub = args.first().expect("a terraform subcommand");
                let help = std::process::Command::new("terraform")
                    .args([sub, "-help"])
                    .env("TF_CLI_CONFIG_FILE", "/dev/null")
                    .output()
                    .expect("terraform is installed (the local demo needs it too)");
                let text = String::from_utf8_lossy(&help.stdout).to_string()
                    + &String::from_utf8_lossy(&help.stderr);
                assert!(
                    help.status.success(),
                    "`terraform {sub}` does not exist: {command}"
                );
                for flag in args.iter().filter(|w| w.starts_with('-')) {
                    let name = flag.split('=').next().unwrap_or_default();
                    assert!(
                        text.contains(name),
                        "`terraform {sub}` has no flag {name}: {command}"
                    );
                }
                if *sub == "output" {
                    let name = args.last().expect("an output name");
                    assert!(
                        outputs.contains(*name),
                        "terraform/orchestrator has no output {name}: {command}"
                    );
                }
            }
            "az" => {
                let path = words[1..]
                    .iter()
                    .take_while(|w| !w.starts_with('-'))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ");
                assert!(
                    AZ_COMMANDS.contains(&path.as_str()),
                    "az {path} is not a checked Azure CLI command: {command}"
                );
            }
            // `cargo run --release -- ARGS` is nightshift's own command: crates/cli/tests/docs_commands.rs parses it.
            "cargo" if words.get(1) == Some(&"run") => {}
            "cargo" => {
                let p = words
                    .iter()
                    .position(|w| *w == "-p")
                    .map(|i| words[i + 1])
                    .expect("cargo -p <package>");
                assert!(
                    packages.contains(p),
                    "no package {p} in the workspace ({packages:?}): {command}"
                );
                if let Some(i) = words.iter().position(|w| *w == "--bin") {
                    let bin = words[i + 1];
                    let manifest =
                        fs::read_to_string(root().join("handlers/Cargo.toml")).unwrap_or_default();
                    assert!(
                        manifest.contains(&format!("name = \"{bin}\"")),
                        "no binary {bin}: {command}"
                    );
                    let host = fs::read_to_string(root().join("host.json")).expect("host.json");
                    assert!(
                        host.contains(&format!("\"defaultExecutablePath\": \"{bin}\"")),
                        "host.json does not run {bin}"
                    );
                }
            }
            // nightshift's own commands are parsed by crates/cli/tests/docs_commands.rs.
            "nightshift" => {}
            "cd" | "export" => {}
            other => {
                let found = std::process::Command::new("sh")
                    .args(["-c", &format!("command -v {other}")])
                    .output()
                    .is_ok_and(|o| o.status.success());
                assert!(found, "{other} is not a command here: {command}");
            }
        }
    }
    for needed in ["az", "terraform", "cargo"] {
        assert!(
            checked.contains(needed),
            "the steps never run {needed}: {checked:?}"
        );
    }
    for file in ["runner/Dockerfile", "host.json", "function-definitions"] {
        assert!(
            root().join(file).exists(),
            "{file} is named in the steps but does not exist"
        );
    }
}

/// `ARG NAME=value` of the runner image's Dockerfile.
fn dockerfile_arg(name: &str) -> String {
    let dockerfile =
        fs::read_to_string(root().join("runner/Dockerfile")).expect("runner/Dockerfile");
    dockerfile
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("ARG {name}=")))
        .unwrap_or_else(|| panic!("runner/Dockerfile pins no {name}"))
        .to_string()
}

fn version(v: &str) -> Vec<u32> {
    v.trim()
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

#[test]
fn the_runner_images_terraform_satisfies_every_required_version_of_the_stacks() {
    let pinned = dockerfile_arg("TERRAFORM_VERSION");
    let files = tf_files(&root().join("terraform"));
    let mut checked = 0;
    for (file, t) in blocks(&files, "terraform", &[]) {
        let Some(required) = attr(t.body(), "required_version").map(text) else {
            continue;
        };
        let minimum = required.trim_matches('"').trim_start_matches(">=").trim();
        assert!(
            version(&pinned) >= version(minimum),
            "{file}: required_version {required}, but the runner image pins Terraform {pinned}"
        );
        checked += 1;
    }
    assert!(
        checked > 10,
        "only {checked} terraform blocks with required_version"
    );
}

#[test]
fn operators_get_a_least_privilege_role_to_run_nightshift_from_a_workstation() {
    let tf = orchestrator();
    let role = one(&tf, "resource", &["azurerm_role_definition", "operator"]);
    let permissions = role
        .body()
        .blocks()
        .find(|b| b.identifier() == "permissions")
        .expect("permissions");
    let actions = strings(attr(permissions.body(), "actions").expect("actions"));
    assert!(
        !actions.is_empty() && actions.iter().all(|a| a.ends_with("/read")),
        "operators may only read: {actions:?}"
    );
    let mut scopes = BTreeMap::new();
    for name in [
        "operators_environments",
        "operators_journal",
        "operators_releases",
    ] {
        let ra = one(&tf, "resource", &["azurerm_role_assignment", name]);
        assert_eq!(
            attr(ra.body(), "principal_id").map(text).as_deref(),
            Some("var.operators_principal_id")
        );
        assert!(attr(ra.body(), "count")
            .map(text)
            .unwrap_or_default()
            .contains("var.operators_principal_id == null"));
        scopes.insert(name, attr(ra.body(), "scope").map(text).unwrap_or_default());
    }
    assert!(
        scopes["operators_journal"].contains("[\"journals\"]"),
        "{scopes:?}"
    );
    assert!(
        scopes["operators_releases"].contains("[\"releases\"]"),
        "{scopes:?}"
    );
}
