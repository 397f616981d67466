locals {
  identity_type = join(", ", compact([
    var.managed_identities.system_assigned ? "SystemAssigned" : "",
    length(var.managed_identities.user_assigned_resource_ids) > 0 ? "UserAssigned" : "",
  ]))

  # A user-assigned identity resolves Key Vault references; it exists (and holds its role) before the app.
  key_vault_reference_identity_id = length(var.managed_identities.user_assigned_resource_ids) > 0 ? one([
    for id in var.managed_identities.user_assigned_resource_ids : id
    if var.managed_identities.key_vault_reference_identity_id == null || id == var.managed_identities.key_vault_reference_identity_id
  ]) : null

  app_settings = merge(
    var.app_settings,
    { for name, uri in var.key_vault_references : name => "@Microsoft.KeyVault(SecretUri=${uri})" },
    var.application_insights_connection_string_secret_uri == null ? {} : {
      APPLICATIONINSIGHTS_CONNECTION_STRING      = "@Microsoft.KeyVault(SecretUri=${var.application_insights_connection_string_secret_uri})"
      ApplicationInsightsAgent_EXTENSION_VERSION = "~3"
    },
  )
}
