# The SendGrid API key as a Key Vault secret. The value is never in the repository nor in the state: either it is
# given at apply time through the sensitive variable (nightshift reads it from its own vault and sets TF_VAR_value
# for the job), or the secret is already in the vault (put there by an operator) and is only looked up.
resource "azurerm_key_vault_secret" "this" {
  count = local.manage_value ? 1 : 0

  key_vault_id    = var.key_vault_id
  name            = var.name
  content_type    = "text/plain; sendgrid-api-key"
  expiration_date = var.expiration_date
  # Write-only: the key is sent to Key Vault but kept in neither the plan nor the state (Terraform 1.11). The
  # version follows the value (a new key is sent again); it is a 32-bit slice of its SHA-256, not the key.
  value_wo         = var.value
  value_wo_version = parseint(substr(sha256(var.value), 0, 8), 16)
  tags             = var.tags
}

data "azurerm_key_vault_secret" "existing" {
  count = local.manage_value ? 0 : 1

  key_vault_id = var.key_vault_id
  name         = var.name
}
