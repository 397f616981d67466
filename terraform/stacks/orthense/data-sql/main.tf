# Personal data: Azure SQL (serverless, auto-pause) for the accounts API. Entra-only authentication by default: the
# identity that runs Terraform and the seeds is the Entra admin, the accounts API logs in with its managed identity
# (the seed creates its database user), and no SQL password exists anywhere.
data "azurerm_client_config" "current" {}

module "mssql" {
  source = "../../../modules/mssql"

  location                   = var.location
  name                       = local.sql_server_name
  resource_group_name        = var.resource_group_name
  log_analytics_workspace_id = var.log_analytics_workspace_id
  entra_administrator = {
    login_username = var.sql_entra_admin_login
    object_id      = coalesce(var.sql_entra_admin_object_id, data.azurerm_client_config.current.object_id)
    tenant_id      = data.azurerm_client_config.current.tenant_id
  }
  authentication = {
    mode         = var.sql_authentication_mode
    key_vault_id = var.key_vault_id
  }
  database = {
    name                        = var.sql_database_name
    auto_pause_delay_in_minutes = local.ephemeral ? 60 : -1
    min_capacity                = local.ephemeral ? 0.5 : 1
    sku_name                    = local.ephemeral ? "GP_S_Gen5_1" : "GP_S_Gen5_2"
    storage_account_type        = local.ephemeral ? "Local" : "Geo"
    backup_retention_days       = local.ephemeral ? 1 : 14
  }
  tags = local.resource_tags
}
