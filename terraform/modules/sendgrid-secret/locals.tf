locals {
  # Whether a value was given is not itself secret; only the value is.
  manage_value = nonsensitive(var.value != null)

  secret_id = local.manage_value ? azurerm_key_vault_secret.this[0].id : data.azurerm_key_vault_secret.existing[0].id

  versionless_id = local.manage_value ? azurerm_key_vault_secret.this[0].versionless_id : data.azurerm_key_vault_secret.existing[0].versionless_id
}
