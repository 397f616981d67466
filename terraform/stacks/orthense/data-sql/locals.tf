locals {
  sql_server_name = module.naming.sql_server
}
