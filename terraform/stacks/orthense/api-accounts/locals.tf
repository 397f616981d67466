locals {
  app_name = module.naming.app_accounts
  issuer   = "https://${local.app_name}.azurewebsites.net"

  # No secret in it: the API authenticates to SQL with its managed identity.
  sql_connection_string = join(";", [
    "Server=tcp:${var.sql_server_fqdn},1433",
    "Database=${var.sql_database_name}",
    "Authentication=Active Directory Managed Identity",
    "User Id=${azurerm_user_assigned_identity.api.client_id}",
    "Encrypt=True",
    "TrustServerCertificate=False",
  ])

  referenced_secret_names = toset([
    for uri in [var.sendgrid_api_key_secret_uri, var.app_insights_connection_string_secret_uri] :
    regex("/secrets/([^/]+)", uri)[0]
  ])
}
