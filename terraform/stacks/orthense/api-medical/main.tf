# Medical-data API: MongoDB (Cosmos DB) through a Key Vault reference to the connection string, JWTs validated
# against the accounts API's issuer (public keys from its JWKS endpoint, no shared secret), SendGrid, telemetry.
resource "azurerm_user_assigned_identity" "api" {
  location            = var.location
  name                = "id-${local.base_name}-medical"
  resource_group_name = var.resource_group_name
  tags                = local.resource_tags
}

# Read access to exactly the secrets the app references, not to the whole vault.
resource "azurerm_role_assignment" "secrets" {
  for_each = local.referenced_secret_names

  principal_id         = azurerm_user_assigned_identity.api.principal_id
  scope                = "${var.key_vault_id}/secrets/${each.key}"
  description          = "Medical API resolves its Key Vault reference to ${each.key}."
  principal_type       = "ServicePrincipal"
  role_definition_name = "Key Vault Secrets User"
}

module "api" {
  source = "../../../modules/api-app"

  location            = var.location
  name                = local.app_name
  resource_group_name = var.resource_group_name
  service_plan_id     = var.app_service_plan_id
  managed_identities = {
    user_assigned_resource_ids = [azurerm_user_assigned_identity.api.id]
  }
  application_stack = { dotnet_version = var.dotnet_version }
  app_settings = {
    ASPNETCORE_ENVIRONMENT = local.ephemeral ? "Staging" : "Production"
    AZURE_CLIENT_ID        = azurerm_user_assigned_identity.api.client_id
    ORTHENSE_ENVIRONMENT   = var.environment
    Mongo__DatabaseName    = var.mongo_database_name
    Jwt__Authority         = var.accounts_api_url
    Jwt__Audience          = "orthense-medical-api"
  }
  key_vault_references = {
    ConnectionStrings__Mongo = var.mongo_connection_string_secret_uri
    SendGrid__ApiKey         = var.sendgrid_api_key_secret_uri
  }
  application_insights_connection_string_secret_uri = var.app_insights_connection_string_secret_uri
  cors_allowed_origins                              = toset(var.spa_origins)
  tags                                              = local.resource_tags

  depends_on = [azurerm_role_assignment.secrets]
}
