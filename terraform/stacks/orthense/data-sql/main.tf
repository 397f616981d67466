# Personal data: Azure SQL (serverless, auto-pause) for the accounts API. Two administrators:
# - Entra: the identity that runs Terraform (nightshift's jobs) or a DBA group; people and the accounts API (its
#   managed identity, whose database user the seed creates) authenticate with Entra.
# - SQL login "sqladmin": the seed-sql step's community.general.mssql_script (pymssql) cannot use Entra, so the server
#   is not Entra-only (see azuread_authentication_only in terraform/modules/mssql/main.tf). The password is generated
#   by an ephemeral random_password and written (write-only) only to the environment's Key Vault as secret "sql-admin-password"; the seed reads
#   it there at run time (key_vault_name from foundation, the login and secret name from this layer's outputs).
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
  sql_administrator = {
    login        = var.sql_admin_login
    key_vault_id = var.key_vault_id
    secret_name  = "sql-admin-password"
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
