locals {
  resource_group_path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.resource_group_name}"
  hostname            = "api.${var.environment}.${var.dns_suffix}"

  settings = merge(
    {
      PG_DATABASE      = var.database_path
      PG_DATABASE_NAME = var.database_name
      PG_HOST          = var.database_host
      PG_PORT          = "5432"
      SMTP_HOST        = var.smtp_host
      SMTP_PORT        = tostring(var.smtp_port)
      # The external APIs the backend calls (seed 002): public endpoints, not part of the environment.
      API_ENTREPRISE_URL = var.api_entreprise_url
      API_INSEE_URL      = var.api_insee_url
      API_ADRESSE_URL    = var.api_adresse_url
      # The frontends' origins, for CORS and the JWT audience.
      FRONTEND_ORIGINS = join(",", var.frontend_origins)
    },
    # Secrets are references resolved by the platform at run time, never values.
    {
      SMTP_PASSWORD        = "@Microsoft.KeyVault(VaultName=${var.key_vault_name};SecretName=smtp-password)"
      API_ENTREPRISE_TOKEN = "@Microsoft.KeyVault(VaultName=${var.key_vault_name};SecretName=api-entreprise-token)"
      API_INSEE_TOKEN      = "@Microsoft.KeyVault(VaultName=${var.key_vault_name};SecretName=api-insee-token)"
    },
  )
}

# VAO's backend (Node.js, express), issuing the JWTs the frontends present (seed 002).
module "this" {
  source = "../../modules/site"

  resource_group_path = local.resource_group_path
  product             = var.product
  environment         = var.environment
  name                = "app-${var.product}-${var.environment}-backend"
  kind                = "app-service"
  runtime             = var.runtime
  hostname            = local.hostname
  settings            = local.settings
  simulated_seconds   = var.simulated_seconds
}
