locals {
  resource_group_path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.resource_group_name}"
  resource_group_tags = try(jsondecode(file("${local.resource_group_path}/tags.json")), {})
  server_name         = "sql-${var.product}-${var.environment}"
  server_path         = "${local.resource_group_path}/sql-servers/${local.server_name}"
  # The SQL-like store: a SQLite file INSIDE the resource group, so the sweep deleting the group deletes the data.
  database_path = "${local.server_path}/${var.database_name}.sqlite"
}

# Azure SQL server + database. The SQLite file starts empty; seed-sql creates the tables. Never truncated on
# re-apply: only a new path replaces it.
resource "terraform_data" "this" {
  input            = { name = local.server_name, path = local.server_path, database_path = local.database_path }
  triggers_replace = [local.database_path]

  lifecycle {
    # Fail at plan time, as Azure would with ResourceGroupNotFound, and never write into another environment's group
    # (its data would live and die with that environment). Not evaluated on destroy, so a swept group destroys fine.
    precondition {
      condition     = lookup(local.resource_group_tags, "nightshift-product", "") == var.product && lookup(local.resource_group_tags, "nightshift-environment", "") == var.environment
      error_message = "Resource group ${local.resource_group_path} not found, or not tagged for ${var.product}/${var.environment}: apply this environment's foundation layer first."
    }
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      [ -d "$RG_PATH" ] || { echo "ResourceGroupNotFound: $RG_PATH does not exist (foundation not applied, or swept)" >&2; exit 1; }
      sleep "$SIMULATED_SECONDS"
      mkdir -p "$SERVER_PATH"
      printf '%s\n' "$DESCRIPTOR" > "$SERVER_PATH/server.json"
      [ -e "$DATABASE_PATH" ] || : > "$DATABASE_PATH"
    EOT
    environment = {
      RG_PATH           = local.resource_group_path
      SERVER_PATH       = local.server_path
      DATABASE_PATH     = local.database_path
      SIMULATED_SECONDS = tostring(var.simulated_seconds)
      DESCRIPTOR = jsonencode({
        name           = local.server_name
        fqdn           = "${local.server_name}.database.local"
        resource_group = var.resource_group_name
        databases      = [var.database_name]
      })
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = "rm -rf \"$SERVER_PATH\""
    environment = { SERVER_PATH = self.output.path }
  }
}
