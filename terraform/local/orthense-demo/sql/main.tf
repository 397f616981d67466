locals {
  resource_group_path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.resource_group_name}"
}

# The Azure SQL server and its database (the SQL-like store), inside the environment's resource group.
module "this" {
  source = "../../modules/database"

  resource_group_path = local.resource_group_path
  product             = var.product
  environment         = var.environment
  kind                = "sql-server"
  name                = "sql-${var.product}-${var.environment}"
  database_name       = var.database_name
  descriptor          = { fqdn = "sql-${var.product}-${var.environment}.database.local" }
  simulated_seconds   = var.simulated_seconds
}

# Environments built before the module existed keep their database.
moved {
  from = terraform_data.this
  to   = module.this.terraform_data.this
}
