variable "nightshift_tags" {
  type = map(string)
}

variable "environment" {
  type = string
}

variable "product" {
  type = string
}

variable "resource_group_name" {
  type = string
}

variable "location" {
  type = string
}

variable "key_vault_id" {
  type = string
}

resource "azurerm_postgresql_flexible_server" "this" {
  name                          = "psql-${var.product}-${var.environment}"
  location                      = var.location
  resource_group_name           = var.resource_group_name
  version                       = "16"
  sku_name                      = "B_Standard_B1ms"
  storage_mb                    = 32768
  backup_retention_days         = 7
  geo_redundant_backup_enabled  = false
  public_network_access_enabled = false

  authentication {
    active_directory_auth_enabled = true
    password_auth_enabled         = false
  }
}

resource "azurerm_postgresql_flexible_server_database" "agenda" {
  name      = "agenda"
  server_id = azurerm_postgresql_flexible_server.this.id
}

# No password in it: the API signs in with its managed identity.
resource "azurerm_key_vault_secret" "database_url" {
  name         = "database-url"
  key_vault_id = var.key_vault_id
  value        = "postgres://${azurerm_postgresql_flexible_server.this.fqdn}:5432/agenda?sslmode=require"
}

output "database_url_secret_uri" {
  value = azurerm_key_vault_secret.database_url.versionless_id
}

output "database_url_secret_name" {
  value = azurerm_key_vault_secret.database_url.name
}
