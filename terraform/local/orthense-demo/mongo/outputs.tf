output "database_path" {
  description = "Absolute path of the SQLite file standing in for the MongoDB database (seed-mongo's database_path, smoke's MONGO_DATABASE)."
  value       = module.this.database_path
}

output "database_name" {
  description = "Name of the MongoDB database, e.g. \"orthense-medical\"."
  value       = var.database_name
}

output "account_name" {
  description = "Name of the Cosmos DB account, e.g. \"cosmos-orthense-demo-nightly\"."
  value       = module.this.name
}

output "resource_id" {
  description = "Azure-style id of the Cosmos DB account."
  value       = "/subscriptions/local/resourceGroups/${var.resource_group_name}/providers/Microsoft.DocumentDB/databaseAccounts/${module.this.name}"
}
