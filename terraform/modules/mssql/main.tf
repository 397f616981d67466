# Azure SQL logical server and one serverless database that pauses when idle. Two administrators: an Entra one (people,
# groups, the identity that runs Terraform) and an SQL one whose generated password is kept only in Key Vault
# (main.password.tf) for the clients that cannot use Entra (the seeds' community.general.mssql_script / pymssql).
resource "azurerm_mssql_server" "this" {
  #checkov:skip=CKV_AZURE_24:Audit records go to Log Analytics (main.auditing.tf, log_monitoring_enabled) whose retention applies; retention_in_days only concerns a storage account target.
  #checkov:skip=CKV_AZURE_113:No virtual network in the environments; the firewall admits Azure services only and logins need an Entra token or the SQL admin password, which only Key Vault holds.
  #checkov:skip=CKV2_AZURE_45:No virtual network in the environments, hence no private endpoint.
  #checkov:skip=CKV2_AZURE_2:Express vulnerability assessment is enabled (express_vulnerability_assessment_enabled); it needs no storage account.
  location                                 = var.location
  name                                     = var.name
  resource_group_name                      = var.resource_group_name
  version                                  = "12.0"
  administrator_login                      = var.sql_administrator.login
  administrator_login_password_wo          = ephemeral.random_password.administrator.result
  administrator_login_password_wo_version  = var.sql_administrator.password_version
  connection_policy                        = "Default"
  express_vulnerability_assessment_enabled = var.express_vulnerability_assessment_enabled
  minimum_tls_version                      = "1.2"
  outbound_network_restriction_enabled     = false
  public_network_access_enabled            = var.public_network_access_enabled
  tags                                     = var.tags

  azuread_administrator {
    login_username = var.entra_administrator.login_username
    object_id      = var.entra_administrator.object_id
    # Not Entra-only, on purpose: the seeds load data with community.general.mssql_script, whose driver (pymssql)
    # has no Entra authentication, so they log in as the SQL admin. Its password is generated (ephemeral random_password),
    # written only to Key Vault and read there at run time; people, groups and the apps' managed identities still
    # authenticate with Entra (this administrator, and contained users created from the identities).
    azuread_authentication_only = false
    tenant_id                   = var.entra_administrator.tenant_id
  }

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_mssql_database" "this" {
  #checkov:skip=CKV_AZURE_224:Ledger tables are an application choice and cannot be turned off again; the accounts database does not need cryptographic non-repudiation.
  #checkov:skip=CKV_AZURE_229:Zone redundancy doubles the cost of a serverless database; not needed for test environments, callers can still ask for Zone storage.
  name                        = var.database.name
  server_id                   = azurerm_mssql_server.this.id
  auto_pause_delay_in_minutes = var.database.auto_pause_delay_in_minutes
  collation                   = var.database.collation
  geo_backup_enabled          = false
  ledger_enabled              = false
  max_size_gb                 = var.database.max_size_gb
  min_capacity                = var.database.min_capacity
  sku_name                    = var.database.sku_name
  storage_account_type        = var.database.storage_account_type
  tags                        = var.tags
  zone_redundant              = false

  short_term_retention_policy {
    retention_days = var.database.backup_retention_days
  }
}

# Azure services (App Service apps without a virtual network, nightshift's jobs) reach the server; clients still
# need an Entra token (or the SQL admin password, which only Key Vault holds) to log in.
resource "azurerm_mssql_firewall_rule" "azure_services" {
  #checkov:skip=CKV2_AZURE_34:The 0.0.0.0 rule is Azure's 'allow Azure services' switch (App Service without a virtual network, nightshift's jobs), not an open range; logins still need an Entra token or the SQL admin password kept in Key Vault.
  count = var.allow_azure_services ? 1 : 0

  end_ip_address   = "0.0.0.0"
  name             = "AllowAllWindowsAzureIps"
  server_id        = azurerm_mssql_server.this.id
  start_ip_address = "0.0.0.0"
}
