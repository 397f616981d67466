# Foundation of one Orthense environment: its resource group (the unit the sweep deletes), the Key Vault every
# secret of the environment lives in, monitoring, the App Service plan both APIs share, and the SendGrid key.
data "azurerm_client_config" "current" {}

module "resource_group" {
  source = "../../../modules/resource-group"

  location     = var.location
  name         = module.naming.resource_group
  lock_enabled = var.lock_resource_group
  tags         = merge(var.extra_tags, var.nightshift_tags)
}

module "key_vault" {
  source = "../../../modules/key-vault"

  location                   = module.resource_group.location
  name                       = local.key_vault_name
  resource_group_name        = module.resource_group.name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  log_analytics_workspace_id = module.monitoring.resource_id
  # Ephemeral vaults are purged after the sweep so the name is free for the next night; persistent ones are not.
  purge_protection_enabled   = !local.ephemeral
  soft_delete_retention_days = local.ephemeral ? 7 : 90
  # The APIs have no virtual network: App Service resolves Key Vault references over the public endpoint.
  network_acls = { default_action = var.key_vault_default_action }
  # The module always makes the deployer Secrets Officer (it writes this environment's secrets) and waits for RBAC
  # propagation before any secret is written.
  deployer_principal_type = var.deployer_principal_type
  role_assignments = {
    deployer_keys = {
      principal_id         = data.azurerm_client_config.current.object_id
      principal_type       = var.deployer_principal_type
      role_definition_name = "Key Vault Crypto Officer"
      description          = "The identity that runs the api-accounts step creates the JWT signing key."
    }
  }
  tags = local.resource_tags
}

module "monitoring" {
  source = "../../../modules/monitoring"

  location            = module.resource_group.location
  name                = module.naming.log_analytics_workspace
  resource_group_name = module.resource_group.name
  daily_quota_gb      = local.ephemeral ? 1 : -1
  retention_in_days   = local.ephemeral ? 30 : 90
  application_insights = {
    name                 = "appi-${local.base_name}"
    daily_data_cap_in_gb = local.ephemeral ? 1 : 10
  }
  tags = local.resource_tags
}

# The connection string goes to the apps as a Key Vault reference, like every other credential.
resource "azurerm_key_vault_secret" "app_insights_connection_string" {
  #checkov:skip=CKV_AZURE_41:Not a rotated credential: it lives as long as the component and the environment.
  key_vault_id = module.key_vault.resource_id
  name         = "appinsights-connection-string"
  content_type = "text/plain; application-insights-connection-string"
  value        = module.monitoring.application_insights_connection_string
  tags         = local.resource_tags

  depends_on = [module.key_vault]
}

module "sendgrid_secret" {
  source = "../../../modules/sendgrid-secret"

  key_vault_id = module.key_vault.resource_id
  value        = var.sendgrid_api_key
  tags         = local.resource_tags

  depends_on = [module.key_vault]
}

resource "azurerm_service_plan" "apis" {
  #checkov:skip=CKV_AZURE_225:Zone redundancy needs three instances; ephemeral environments run one, persistent ones choose their SKU and count.
  #checkov:skip=CKV_AZURE_211:B1 is deliberate for nightly and pull-request environments; prod passes P1v3 through the catalog (app_service_sku).
  location            = module.resource_group.location
  name                = "asp-${local.base_name}"
  os_type             = "Linux"
  resource_group_name = module.resource_group.name
  sku_name            = var.app_service_sku
  worker_count        = local.ephemeral ? 1 : var.app_service_worker_count
  tags                = local.resource_tags
}
