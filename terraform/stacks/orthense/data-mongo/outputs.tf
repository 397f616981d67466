output "cosmos_account_name" {
  description = "Name of the Cosmos DB account."
  value       = module.cosmos_mongo.name
}

output "cosmos_account_id" {
  description = "Resource id of the Cosmos DB account."
  value       = module.cosmos_mongo.resource_id
}

output "mongo_database_name" {
  description = "Name of the MongoDB database."
  value       = module.cosmos_mongo.database_name
}

output "mongo_connection_string_secret_uri" {
  description = "Versionless URI of the Key Vault secret holding the MongoDB connection string."
  value       = module.cosmos_mongo.connection_string_secret_id
}

output "mongo_connection_string_secret_name" {
  description = "Name of that secret in the environment's vault (the seed looks it up at run time)."
  value       = module.cosmos_mongo.connection_string_secret_name
}
