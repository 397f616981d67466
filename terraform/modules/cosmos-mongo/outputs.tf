output "name" {
  description = "Name of the Cosmos DB account."
  value       = azurerm_cosmosdb_account.this.name
}

output "resource_id" {
  description = "Resource id of the Cosmos DB account."
  value       = azurerm_cosmosdb_account.this.id
}

output "database_name" {
  description = "Name of the MongoDB database."
  value       = azurerm_cosmosdb_mongo_database.this.name
}

output "collection_ids" {
  description = "Resource ids of the collections, by name."
  value       = { for k, c in azurerm_cosmosdb_mongo_collection.this : k => c.id }
}

output "connection_string_secret_id" {
  description = "Versionless id of the Key Vault secret holding the connection string (for @Microsoft.KeyVault(SecretUri=...)), or null."
  value       = one(azurerm_key_vault_secret.connection_string[*].versionless_id)
}

output "connection_string_secret_name" {
  description = "Name of the Key Vault secret holding the connection string, or null."
  value       = one(azurerm_key_vault_secret.connection_string[*].name)
}
