output "sql_server_name" {
  description = "Name of the logical server."
  value       = module.mssql.name
}

output "sql_server_id" {
  description = "Resource id of the logical server."
  value       = module.mssql.resource_id
}

output "sql_server_fqdn" {
  description = "FQDN of the server, e.g. sql-orthense-nightly-1a2b3c.database.windows.net."
  value       = module.mssql.fully_qualified_domain_name
}

output "sql_database_name" {
  description = "Name of the accounts database."
  value       = module.mssql.database_name
}

output "sql_admin_login" {
  description = "Login of the SQL administrator the seed uses, e.g. \"sqladmin\" (not a secret)."
  value       = module.mssql.administrator_login
}

output "sql_admin_password_secret_name" {
  description = "Name of the Key Vault secret (in the foundation's vault) holding the SQL admin password: \"sql-admin-password\"."
  value       = module.mssql.administrator_password_secret_name
}

output "sql_admin_password_secret_uri" {
  description = "Versionless URI of the Key Vault secret holding the SQL admin password."
  value       = module.mssql.administrator_password_secret_id
}
