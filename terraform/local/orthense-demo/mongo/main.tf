locals {
  resource_group_path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.resource_group_name}"
}

# The Cosmos DB for MongoDB account and its database (the MongoDB-like store: one table of JSON documents per collection), inside the environment's resource group.
module "this" {
  source = "../../modules/database"

  resource_group_path = local.resource_group_path
  product             = var.product
  environment         = var.environment
  kind                = "cosmosdb-mongo"
  name                = "cosmos-${var.product}-${var.environment}"
  database_name       = var.database_name
  descriptor          = { kind = "MongoDB" }
  simulated_seconds   = var.simulated_seconds
}

# Environments built before the module existed keep their database.
moved {
  from = terraform_data.this
  to   = module.this.terraform_data.this
}
