output "database_path" {
  description = "Absolute path of the SQLite file standing in for the SQL database (seed-sql's database_path, smoke's SQL_DATABASE)."
  value       = module.this.database_path
}

output "database_name" {
  description = "Name of the SQL database, e.g. \"orthense-accounts\"."
  value       = var.database_name
}

output "server_name" {
  description = "Name of the SQL server, e.g. \"sql-orthense-demo-nightly\"."
  value       = module.this.name
}

output "server_fqdn" {
  description = "Host name of the SQL server, e.g. \"sql-orthense-demo-nightly.database.local\"."
  value       = "${module.this.name}.database.local"
}

output "resource_id" {
  description = "Azure-style id of the SQL database."
  value       = "/subscriptions/local/resourceGroups/${var.resource_group_name}/providers/Microsoft.Sql/servers/${module.this.name}/databases/${var.database_name}"
}
