# Roles, narrowest scope first. Azure RBAC cannot filter control-plane actions by tag, so "only resource groups
# tagged nightshift-managed-by=<instance>" is enforced by nightshift's code (the sweep lists by tag and re-checks
# every tag before a DELETE) and by scope: give nightshift a dedicated subscription (var.environments_subscription_id).

# --- The function app's identity (orchestrator) -----------------------------------------------------------------

# Launch, watch and remove job container groups, only in the jobs resource group.
resource "azurerm_role_definition" "launcher" {
  name              = "nightshift-launcher (${local.role_name_suffix})"
  scope             = azurerm_resource_group.jobs.id
  assignable_scopes = [azurerm_resource_group.jobs.id]
  description       = "nightshift orchestrator: create, read and delete job container groups and read their logs."

  permissions {
    actions = [
      "Microsoft.ContainerInstance/containerGroups/read",
      "Microsoft.ContainerInstance/containerGroups/write",
      "Microsoft.ContainerInstance/containerGroups/delete",
      "Microsoft.ContainerInstance/containerGroups/containers/logs/read",
      "Microsoft.ContainerInstance/containerGroups/stop/action",
      "Microsoft.Resources/subscriptions/resourceGroups/read",
    ]
    not_actions = []
  }
}

resource "azurerm_role_assignment" "orchestrator_launcher" {
  principal_id       = azurerm_user_assigned_identity.orchestrator.principal_id
  scope              = azurerm_resource_group.jobs.id
  description        = "nightshift launches its jobs here."
  principal_type     = "ServicePrincipal"
  role_definition_id = azurerm_role_definition.launcher.role_definition_resource_id
}

# A container group that runs as the jobs' identity needs the right to assign that identity, on that identity only.
resource "azurerm_role_assignment" "orchestrator_assign_jobs_identity" {
  principal_id         = azurerm_user_assigned_identity.orchestrator.principal_id
  scope                = azurerm_user_assigned_identity.jobs.id
  description          = "nightshift attaches the jobs' identity to the container groups it launches."
  principal_type       = "ServicePrincipal"
  role_definition_name = "Managed Identity Operator"
}

# The sweep: list resource groups (by tag, in code), delete expired ones, purge their soft-deleted vaults. Deleted
# vaults are subscription-level objects (no resource group), so this role sits on the environments' subscription.
resource "azurerm_role_definition" "sweeper" {
  provider = azurerm.environments

  name              = "nightshift-sweeper (${local.role_name_suffix})"
  scope             = local.environments_scope
  assignable_scopes = [local.environments_scope]
  description       = "nightshift sweep and lifecycle: read, re-tag (expiry) and delete resource groups, purge soft-deleted Key Vaults of deleted environments."

  permissions {
    actions = concat([
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.Resources/subscriptions/resourceGroups/delete",
      "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
      # extend, keep, on_failure: PATCH {group}/providers/Microsoft.Resources/tags/default (Merge) moves an
      # environment's nightshift-expires-at tag.
      "Microsoft.Resources/tags/write",
      # Deleting a group needs delete permission on every resource in it (Azure checks each one).
      # GET /subscriptions/{s}/providers/Microsoft.KeyVault/deletedVaults: list the soft-deleted vaults.
      "Microsoft.KeyVault/deletedVaults/read",
      "Microsoft.KeyVault/locations/deletedVaults/read",
      # POST .../locations/{location}/deletedVaults/{name}/purge, and polling its operation.
      "Microsoft.KeyVault/locations/deletedVaults/purge/action",
      "Microsoft.KeyVault/locations/operationResults/read",
    ], local.sweeper_resource_delete_actions)
    not_actions = []
  }
}

resource "azurerm_role_assignment" "orchestrator_sweeper" {
  provider = azurerm.environments

  principal_id       = azurerm_user_assigned_identity.orchestrator.principal_id
  scope              = local.environments_scope
  description        = "nightshift deletes expired environments."
  principal_type     = "ServicePrincipal"
  role_definition_id = azurerm_role_definition.sweeper.role_definition_resource_id
}

resource "azurerm_role_assignment" "orchestrator_servicebus" {
  for_each = toset(["Azure Service Bus Data Sender", "Azure Service Bus Data Receiver"])

  principal_id         = azurerm_user_assigned_identity.orchestrator.principal_id
  scope                = azurerm_servicebus_namespace.this.id
  principal_type       = "ServicePrincipal"
  role_definition_name = each.key
}

# Blob Data Owner on the account: the Functions host keeps its leases and timer state in AzureWebJobsStorage;
# nightshift writes journals and the sweep deletes the state blobs <product>/<environment>/*.tfstate of swept
# environments in the tfstate container (Owner includes every data action of Blob Data Contributor, so no separate
# container-scope assignment is needed).
resource "azurerm_role_assignment" "orchestrator_storage" {
  principal_id         = azurerm_user_assigned_identity.orchestrator.principal_id
  scope                = azurerm_storage_account.this.id
  principal_type       = "ServicePrincipal"
  role_definition_name = "Storage Blob Data Owner"
}

resource "azurerm_role_assignment" "orchestrator_telemetry" {
  principal_id         = azurerm_user_assigned_identity.orchestrator.principal_id
  scope                = module.monitoring.application_insights_id
  description          = "Local authentication is disabled on Application Insights: telemetry is sent with Entra tokens."
  principal_type       = "ServicePrincipal"
  role_definition_name = "Monitoring Metrics Publisher"
}

# --- The jobs' identity (Terraform, Ansible and smoke steps in container groups) --------------------------------

# What the Orthense stacks create, and nothing else (no compute, no networking, no role definitions).
resource "azurerm_role_definition" "environments" {
  provider = azurerm.environments

  name              = "nightshift-environments (${local.role_name_suffix})"
  scope             = local.environments_scope
  assignable_scopes = [local.environments_scope]
  description       = "nightshift jobs: create and update environment resource groups and the resources the catalog's stacks declare (never delete a group or purge a vault)."

  permissions {
    # No resource-group delete and no vault purge: jobs never destroy an environment, the sweeper does.
    actions = concat([
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.Resources/subscriptions/resourceGroups/write",
      "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
      "Microsoft.Resources/deployments/read",
      "Microsoft.Resources/deployments/operationstatuses/read",
      "Microsoft.Resources/subscriptions/read",
      "Microsoft.Resources/subscriptions/providers/read",
      "Microsoft.Authorization/roleAssignments/read",
      "Microsoft.Authorization/roleDefinitions/read",
    ], var.environment_resource_actions)
    # What the stacks never need and what would reach the orchestrator itself when both share a subscription:
    # federated credentials on its identities (a token as the orchestrator from outside), the function app's host
    # and function keys, vault access policies (the vaults are RBAC-only), and removing the CanNotDelete lock on
    # rg-<instance> (main.tf).
    not_actions = local.jobs_not_actions
  }
}

resource "azurerm_role_assignment" "jobs_environments" {
  provider = azurerm.environments

  principal_id       = azurerm_user_assigned_identity.jobs.principal_id
  scope              = local.environments_scope
  description        = "nightshift jobs build environments."
  principal_type     = "ServicePrincipal"
  role_definition_id = azurerm_role_definition.environments.role_definition_resource_id
}

# The stacks grant their apps data-plane roles (Key Vault Secrets User on one secret, Crypto User on one key) and
# give the deploying identity Secrets Officer and Crypto Officer on the new vault. The condition limits the role
# assignments the jobs may create or delete to exactly those roles, granted to service principals only (the managed
# identities the stacks create, and the jobs' own): no user or group can be made a vault officer, and this is not a
# path to Owner. (Azure's conditions cannot name the identities of one environment: their ids do not exist yet.)
resource "azurerm_role_assignment" "jobs_rbac_admin" {
  provider = azurerm.environments

  principal_id         = azurerm_user_assigned_identity.jobs.principal_id
  scope                = local.environments_scope
  condition            = local.jobs_rbac_condition
  condition_version    = "2.0"
  description          = "nightshift jobs may grant only Key Vault data-plane roles, only to service principals (managed identities)."
  principal_type       = "ServicePrincipal"
  role_definition_name = "Role Based Access Control Administrator"
}

resource "azurerm_role_assignment" "jobs_state" {
  # tfstate: the stacks' state; journals: the runner reads its run and writes its log, result and outputs. Never
  # orchestrator-state: the orchestrator's own state (with the Service Bus keys) is out of the jobs' reach.
  for_each = toset(["tfstate", "journals"])

  principal_id         = azurerm_user_assigned_identity.jobs.principal_id
  scope                = azurerm_storage_container.this[each.key].resource_manager_id
  description          = "nightshift jobs read and write ${each.key} (container scope only)."
  principal_type       = "ServicePrincipal"
  role_definition_name = "Storage Blob Data Contributor"
}

resource "azurerm_role_assignment" "jobs_acr_pull" {
  principal_id         = azurerm_user_assigned_identity.jobs.principal_id
  scope                = azurerm_container_registry.this.id
  principal_type       = "ServicePrincipal"
  role_definition_name = "AcrPull"
}

# A job reports its own outcome on step-events: send right on that queue only.
resource "azurerm_role_assignment" "jobs_step_events" {
  principal_id         = azurerm_user_assigned_identity.jobs.principal_id
  scope                = azurerm_servicebus_queue.this["step-events"].id
  principal_type       = "ServicePrincipal"
  role_definition_name = "Azure Service Bus Data Sender"
}

locals {
  # Built-in role ids (the same in every tenant).
  grantable_role_ids = {
    key_vault_secrets_user    = "4633458b-17de-408a-b874-0445c86b69e6"
    key_vault_secrets_officer = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
    key_vault_crypto_user     = "12338af0-0e69-4776-bea7-57ae8d297424"
    key_vault_crypto_officer  = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
  }

  jobs_rbac_condition = <<-EOT
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
     )
     OR
     (
      @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${join(", ", values(local.grantable_role_ids))}}
      AND
      @Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase 'ServicePrincipal'
     )
    )
    AND
    (
     (
      !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
     )
     OR
     (
      @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {${join(", ", values(local.grantable_role_ids))}}
      AND
      @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] StringEqualsIgnoreCase 'ServicePrincipal'
     )
    )
  EOT
}

locals {
  # Custom role names are unique per tenant: the hash of subscription + instance keeps two subscriptions with the
  # same instance name apart.
  role_name_suffix = "${var.instance_name}-${local.name_hash}"

  # Delete actions the sweeper needs on every top-level resource type the stacks create (Azure refuses a group
  # deletion without them). crates/app/tests/terraform_azure.rs derives the list from the stacks' resources.
  sweeper_resource_delete_actions = [
    "Microsoft.DocumentDB/databaseAccounts/delete",
    "Microsoft.Insights/components/delete",
    "Microsoft.KeyVault/vaults/delete",
    "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
    "Microsoft.OperationalInsights/workspaces/delete",
    "Microsoft.Sql/servers/databases/delete",
    "Microsoft.Sql/servers/delete",
    "Microsoft.Web/certificates/delete",
    "Microsoft.Web/serverfarms/delete",
    "Microsoft.Web/sites/delete",
    "Microsoft.Web/staticSites/delete",
  ]

  jobs_not_actions = [
    "Microsoft.Authorization/locks/delete",
    "Microsoft.KeyVault/locations/deletedVaults/purge/action",
    "Microsoft.KeyVault/vaults/accessPolicies/write",
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
    "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
    "Microsoft.Resources/subscriptions/resourceGroups/delete",
    "Microsoft.Web/sites/functions/listkeys/action",
    "Microsoft.Web/sites/host/listkeys/action",
  ]
}

# --- Operators (var.operators_principal_id): nightshift from a workstation after `az login` --------------------

# `nightshift status` and `close` read and write the journal, `sweep --dry-run` lists resource groups, `release`
# sends on `releases`. Nothing here deletes an environment or reads a secret (the vault grant is in main.keyvault.tf).
resource "azurerm_role_definition" "operator" {
  provider = azurerm.environments

  name              = "nightshift-operator (${local.role_name_suffix})"
  scope             = local.environments_scope
  assignable_scopes = [local.environments_scope]
  description       = "nightshift operators: list the environments' resource groups (sweep --dry-run, doctor)."

  permissions {
    actions = [
      "Microsoft.Resources/subscriptions/resourceGroups/read",
      "Microsoft.Resources/subscriptions/resourceGroups/resources/read",
    ]
    not_actions = []
  }
}

resource "azurerm_role_assignment" "operators_environments" {
  provider = azurerm.environments
  count    = var.operators_principal_id == null ? 0 : 1

  principal_id       = var.operators_principal_id
  scope              = local.environments_scope
  description        = "nightshift operators list the environments (sweep --dry-run)."
  principal_type     = var.operators_principal_type
  role_definition_id = azurerm_role_definition.operator.role_definition_resource_id
}

resource "azurerm_role_assignment" "operators_journal" {
  count = var.operators_principal_id == null ? 0 : 1

  principal_id         = var.operators_principal_id
  scope                = azurerm_storage_container.this["journals"].resource_manager_id
  description          = "nightshift operators read runs and environments (status) and close environments."
  principal_type       = var.operators_principal_type
  role_definition_name = "Storage Blob Data Contributor"
}

resource "azurerm_role_assignment" "operators_releases" {
  count = var.operators_principal_id == null ? 0 : 1

  principal_id         = var.operators_principal_id
  scope                = azurerm_servicebus_queue.this["releases"].id
  description          = "nightshift operators (and CI) ask for releases."
  principal_type       = var.operators_principal_type
  role_definition_name = "Azure Service Bus Data Sender"
}
