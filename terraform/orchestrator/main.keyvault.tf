# Secrets that steps ask for by name in the catalog (`secrets:`: sendgrid-api-key, cloudflare-api-token, ...), put
# there by an operator (`az keyvault secret set`), never by Terraform: no value is in the repository or the state.
module "key_vault" {
  source = "../modules/key-vault"

  location                   = azurerm_resource_group.this.location
  name                       = local.key_vault_name
  resource_group_name        = azurerm_resource_group.this.name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  log_analytics_workspace_id = module.monitoring.resource_id
  purge_protection_enabled   = true
  soft_delete_retention_days = 90
  network_acls = {
    default_action = var.key_vault_default_action
    ip_rules       = var.key_vault_allowed_ips
  }
  role_assignments = {
    orchestrator = {
      principal_id         = azurerm_user_assigned_identity.orchestrator.principal_id
      role_definition_name = "Key Vault Secrets User"
      description          = "The function app resolves its Key Vault references and reads step secrets."
    }
    jobs = {
      principal_id         = azurerm_user_assigned_identity.jobs.principal_id
      role_definition_name = "Key Vault Secrets User"
      description          = "A job reads the secrets its step names at start, so values never travel in the container group definition."
    }
    operators = {
      principal_id         = coalesce(var.operators_principal_id, data.azurerm_client_config.current.object_id)
      principal_type       = var.operators_principal_type
      role_definition_name = "Key Vault Secrets Officer"
      description          = "Operators set and rotate the step secrets."
    }
  }
  tags = local.tags
}

resource "azurerm_key_vault_secret" "app_insights_connection_string" {
  #checkov:skip=CKV_AZURE_41:Not a rotated credential: it lives as long as the component (local auth is disabled anyway).
  key_vault_id = module.key_vault.resource_id
  name         = "appinsights-connection-string"
  content_type = "text/plain; application-insights-connection-string"
  value        = module.monitoring.application_insights_connection_string
  tags         = local.tags

  depends_on = [module.key_vault]
}

# The key of the Send-only policy nightshift signs its Service Bus sends with (NIGHTSHIFT_SERVICEBUS_KEY_SECRET). It
# goes from the provider straight into the vault: no value in the repository or in an app setting. Both identities
# read it through the vault-scope Key Vault Secrets User assignments above (the function app for scheduled retries on
# `steps`, the jobs for their results on `step-events`); the code reads it at its first send and again after a 401.
# Rotation: `az servicebus namespace authorization-rule keys renew --key PrimaryKey -n nightshift-send ...`, then
# `terraform apply` writes the new key here.
resource "azurerm_key_vault_secret" "servicebus_send_key" {
  #checkov:skip=CKV_AZURE_41:A SAS policy key has no expiry of its own; it is rotated by renewing the rule's key and re-applying. An expiry date here would only stop nightshift's sends on that date.
  key_vault_id = module.key_vault.resource_id
  name         = "servicebus-send-key"
  content_type = "text/plain; servicebus-sas-key; policy=${azurerm_servicebus_namespace_authorization_rule.nightshift_send.name}"
  value        = azurerm_servicebus_namespace_authorization_rule.nightshift_send.primary_key
  tags         = local.tags

  depends_on = [module.key_vault]
}
