output "name" {
  description = "Name of the logical server."
  value       = azurerm_mssql_server.this.name
}

output "resource_id" {
  description = "Resource id of the logical server."
  value       = azurerm_mssql_server.this.id
}

output "fully_qualified_domain_name" {
  description = "FQDN of the server, e.g. sql-orthense-nightly-1a2b3c.database.windows.net."
  value       = azurerm_mssql_server.this.fully_qualified_domain_name
}

output "database_id" {
  description = "Resource id of the database."
  value       = azurerm_mssql_database.this.id
}

output "database_name" {
  description = "Name of the database."
  value       = azurerm_mssql_database.this.name
}

output "administrator_login" {
  description = "Login of the SQL administrator, e.g. \"sqladmin\" (not a secret)."
  value       = azurerm_mssql_server.this.administrator_login
}

output "administrator_password_secret_name" {
  description = "Name of the Key Vault secret holding the SQL administrator's password, e.g. \"sql-admin-password\"."
  value       = azurerm_key_vault_secret.administrator_password.name
}

output "administrator_password_secret_id" {
  description = "Versionless id of the Key Vault secret holding the SQL administrator's password."
  value       = azurerm_key_vault_secret.administrator_password.versionless_id
}
