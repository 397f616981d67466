locals {
  app_name = module.naming.app_medical

  referenced_secret_names = toset([
    for uri in [var.mongo_connection_string_secret_uri, var.sendgrid_api_key_secret_uri, var.app_insights_connection_string_secret_uri] :
    regex("/secrets/([^/]+)", uri)[0]
  ])
}
