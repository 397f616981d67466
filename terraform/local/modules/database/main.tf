# A database server (Azure SQL) or account (Cosmos DB for MongoDB) and one database. The SQLite file starts empty (a
# 0-byte file is a valid empty SQLite database); the seeds create the tables or collections. Never truncated on
# re-apply: only a new path replaces it.
resource "terraform_data" "this" {
  input            = { name = var.name, path = local.path, database_path = local.database_path }
  triggers_replace = [local.database_path]

  lifecycle {
    # Fail at plan time, as Azure would with ResourceGroupNotFound, and never write into another environment's group
    # (its data would live and die with that environment). Not evaluated on destroy, so a swept group destroys fine.
    precondition {
      condition     = lookup(local.resource_group_tags, "nightshift-product", "") == var.product && lookup(local.resource_group_tags, "nightshift-environment", "") == var.environment
      error_message = "Resource group ${var.resource_group_path} not found, or not tagged for ${var.product}/${var.environment}: apply this environment's foundation layer first."
    }
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      [ -d "$RG_PATH" ] || { echo "ResourceGroupNotFound: $RG_PATH does not exist (foundation not applied, or swept)" >&2; exit 1; }
      sleep "$SIMULATED_SECONDS"
      mkdir -p "$SERVER_PATH"
      printf '%s\n' "$DESCRIPTOR" > "$SERVER_PATH/$DESCRIPTOR_FILE"
      [ -e "$DATABASE_PATH" ] || : > "$DATABASE_PATH"
    EOT
    environment = {
      RG_PATH           = var.resource_group_path
      SERVER_PATH       = local.path
      DATABASE_PATH     = local.database_path
      DESCRIPTOR_FILE   = local.layout.descriptor_file
      SIMULATED_SECONDS = tostring(var.simulated_seconds)
      DESCRIPTOR = jsonencode(merge(var.descriptor, {
        name           = var.name
        resource_group = basename(var.resource_group_path)
        databases      = [var.database_name]
      }))
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = "rm -rf \"$SERVER_PATH\""
    environment = { SERVER_PATH = self.output.path }
  }
}
