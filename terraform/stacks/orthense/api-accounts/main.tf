# Accounts API (the STS): personal data in Azure SQL, reached with its managed identity (no password; seed-sql creates
# its database user); issues the JWTs the medical API and the SPAs use, signed with a Key Vault key whose private half
# never leaves the vault; sends mail through SendGrid. Every credential reaches it as a Key Vault reference.
resource "azurerm_user_assigned_identity" "api" {
  location            = var.location
  name                = "id-${local.base_name}-accounts"
  resource_group_name = var.resource_group_name
  tags                = local.resource_tags
}

# Read access to exactly the secrets the app references, not to the whole vault.
resource "azurerm_role_assignment" "secrets" {
  for_each = local.referenced_secret_names

  principal_id         = azurerm_user_assigned_identity.api.principal_id
  scope                = "${var.key_vault_id}/secrets/${each.key}"
  description          = "Accounts API resolves its Key Vault reference to ${each.key}."
  principal_type       = "ServicePrincipal"
  role_definition_name = "Key Vault Secrets User"
}

resource "azurerm_key_vault_key" "jwt_signing" {
  #checkov:skip=CKV_AZURE_40:The rotation policy below sets the expiry (expire_after) and rotates the key before it.
  #checkov:skip=CKV_AZURE_112:Software-protected key: HSM keys need the premium vault, not worth it for test environments.
  key_opts     = ["sign", "verify"]
  key_type     = "RSA"
  key_vault_id = var.key_vault_id
  name         = "accounts-jwt-signing"
  key_size     = 3072
  tags         = local.resource_tags

  rotation_policy {
    expire_after         = "P90D"
    notify_before_expiry = "P14D"

    automatic {
      time_before_expiry = "P30D"
    }
  }
}

resource "azurerm_role_assignment" "jwt_signing" {
  principal_id         = azurerm_user_assigned_identity.api.principal_id
  scope                = azurerm_key_vault_key.jwt_signing.resource_versionless_id
  description          = "Accounts API signs JWTs with this key."
  principal_type       = "ServicePrincipal"
  role_definition_name = "Key Vault Crypto User"
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
    ASPNETCORE_ENVIRONMENT         = local.ephemeral ? "Staging" : "Production"
    AZURE_CLIENT_ID                = azurerm_user_assigned_identity.api.client_id
    ORTHENSE_ENVIRONMENT           = var.environment
    ConnectionStrings__AccountsSql = local.sql_connection_string
    Jwt__Issuer                    = local.issuer
    Jwt__SigningKeyId              = azurerm_key_vault_key.jwt_signing.versionless_id
    Cors__AllowedOrigins           = join(",", var.spa_origins)
  }
  key_vault_references = {
    SendGrid__ApiKey = var.sendgrid_api_key_secret_uri
  }
  application_insights_connection_string_secret_uri = var.app_insights_connection_string_secret_uri
  cors_allowed_origins                              = toset(var.spa_origins)
  tags                                              = local.resource_tags

  depends_on = [azurerm_role_assignment.secrets, azurerm_role_assignment.jwt_signing]
}
