locals {
  resource_group_tags = try(jsondecode(file("${var.resource_group_path}/tags.json")), {})
  layout = {
    "sql-server"     = { dir = "sql-servers", descriptor_file = "server.json" }
    "cosmosdb-mongo" = { dir = "cosmosdb", descriptor_file = "account.json" }
    "postgresql"     = { dir = "postgresql-servers", descriptor_file = "server.json" }
  }[var.kind]
  path = "${var.resource_group_path}/${local.layout.dir}/${var.name}"
  # The store is a SQLite file INSIDE the resource group, so the sweep deleting the group deletes the data.
  database_path = "${local.path}/${var.database_name}.sqlite"
}
