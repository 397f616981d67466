# Medical data: Cosmos DB for MongoDB (serverless) with the Orthense database and collections. Its connection string
# is written to the environment's Key Vault; the medical API and the seed read it from there.
module "cosmos_mongo" {
  source = "../../../modules/cosmos-mongo"

  location            = var.location
  name                = local.cosmos_account_name
  resource_group_name = var.resource_group_name
  database_name       = var.mongo_database_name
  collections         = var.mongo_collections
  backup              = local.ephemeral ? {} : { type = "Continuous", tier = "Continuous30Days" }
  connection_string_secret = {
    key_vault_id = var.key_vault_id
    name         = "mongo-connection-string"
  }
  tags = local.resource_tags
}
