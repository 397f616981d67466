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

output "administrator_password_secret_id" {
  description = "Versionless id of the Key Vault secret holding the SQL admin password (password mode), or null."
  value       = one(azurerm_key_vault_secret.administrator_password[*].versionless_id)
}
