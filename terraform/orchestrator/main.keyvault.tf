# Secrets that steps ask for by name in the catalog (`secrets:`: sendgrid-api-key, cloudflare-api-token, ...): their
# values are put there by an operator (`az keyvault secret set`), never by Terraform: no value is in the repository
# or the state.
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
  # Whoever applies gets Secrets Officer from the module (it writes servicebus-send-key); the jobs get read access
  # per secret below, never on the whole vault.
  deployer_principal_type = var.deployer_principal_type
  role_assignments = merge(
    {
      orchestrator = {
        principal_id         = azurerm_user_assigned_identity.orchestrator.principal_id
        role_definition_name = "Key Vault Secrets User"
        description          = "The function app resolves its Key Vault references and reads servicebus-send-key."
      }
    },
    var.operators_principal_id == null ? {} : {
      operators = {
        principal_id         = var.operators_principal_id
        principal_type       = var.operators_principal_type
        role_definition_name = "Key Vault Secrets Officer"
        description          = "Operators set and rotate the step secrets."
      }
    },
  )
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

# Each step secret exists from the first apply, so the jobs can be granted exactly these secrets (a role assignment
# needs its scope to exist). The placeholder is write-only (not in the state) and sent once; an operator's `az
# keyvault secret set` adds the real value as a new version, which Terraform never overwrites.
resource "azurerm_key_vault_secret" "step" {
  #checkov:skip=CKV_AZURE_41:Third-party keys (SendGrid, Cloudflare) are rotated by their owners with az keyvault secret set; an expiry here would stop the nightly runs on that date.
  for_each = var.step_secret_names

  key_vault_id     = module.key_vault.resource_id
  name             = each.key
  content_type     = "text/plain; step-secret; set with az keyvault secret set"
  value_wo         = "unset: az keyvault secret set --vault-name ${local.key_vault_name} -n ${each.key} --value <value>"
  value_wo_version = 1
  tags             = local.tags

  lifecycle {
    ignore_changes = [content_type, tags]
  }
}

# The jobs read the step secrets and servicebus-send-key (their result on step-events), one role assignment per
# secret: not the App Insights connection string, nor any secret added to this vault later.
resource "azurerm_role_assignment" "jobs_secrets" {
  for_each = merge(
    { for name, s in azurerm_key_vault_secret.step : name => s.resource_versionless_id },
    { (azurerm_key_vault_secret.servicebus_send_key.name) = azurerm_key_vault_secret.servicebus_send_key.resource_versionless_id },
  )

  principal_id         = azurerm_user_assigned_identity.jobs.principal_id
  scope                = each.value
  description          = "A nightshift job reads ${each.key}."
  principal_type       = "ServicePrincipal"
  role_definition_name = "Key Vault Secrets User"
}
