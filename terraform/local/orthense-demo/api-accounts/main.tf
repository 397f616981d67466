locals {
  resource_group_path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.resource_group_name}"
  hostname            = "api-accounts.${var.environment}.${var.dns_suffix}"

  settings = merge(
    {
      SQL_DATABASE      = var.database_path
      SQL_DATABASE_NAME = var.database_name
    },
    var.medical_url == "" ? {} : { MEDICAL_API_URL = var.medical_url },
    var.app_insights_connection_string == "" ? {} : { APPLICATIONINSIGHTS_CONNECTION_STRING = var.app_insights_connection_string },
    # Secrets are references resolved by the platform at run time, never values.
    var.key_vault_name == "" ? {} : { SENDGRID_API_KEY = "@Microsoft.KeyVault(VaultName=${var.key_vault_name};SecretName=sendgrid-api-key)" },
  )
}

# The accounts API (App Service in Azure): OpenID Connect provider of the SPAs, owns the SQL-like store.
module "this" {
  source = "../../modules/site"

  resource_group_path = local.resource_group_path
  product             = var.product
  environment         = var.environment
  name                = "app-${var.product}-${var.environment}-accounts"
  kind                = "app-service"
  hostname            = local.hostname
  settings            = local.settings
  simulated_seconds   = var.simulated_seconds
}
