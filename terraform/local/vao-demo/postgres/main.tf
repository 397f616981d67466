locals {
  resource_group_path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.resource_group_name}"
  server_name         = "psql-${var.product}-${var.environment}"
}

# The PostgreSQL server and VAO's database (seed 002: the backend's only store), inside the environment's group.
module "this" {
  source = "../../modules/database"

  resource_group_path = local.resource_group_path
  product             = var.product
  environment         = var.environment
  kind                = "postgresql"
  name                = local.server_name
  database_name       = var.database_name
  descriptor = {
    fqdn           = "${local.server_name}.postgres.database.local"
    engine         = "PostgreSQL"
    engine_version = var.postgresql_version
    port           = "5432"
  }
  simulated_seconds = var.simulated_seconds
}
