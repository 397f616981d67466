locals {
  sql_server_name = "sql-${trimsuffix(substr(local.base_name, 0, 40), "-")}-${local.name_hash}"
}
