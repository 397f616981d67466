locals {
  app_name = "app-${trimsuffix(substr(local.base_name, 0, 40), "-")}-med-${local.name_hash}"

  referenced_secret_names = toset([
    for uri in [var.mongo_connection_string_secret_uri, var.sendgrid_api_key_secret_uri, var.app_insights_connection_string_secret_uri] :
    regex("/secrets/([^/]+)", uri)[0]
  ])
}
