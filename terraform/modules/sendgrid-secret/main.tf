# The SendGrid API key as a Key Vault secret. The value is never in the repository: either it is given at apply
# time through the sensitive variable (nightshift reads it from its own vault and sets TF_VAR_value for the job),
# or the secret is already in the vault (put there by an operator) and is only looked up.
resource "azurerm_key_vault_secret" "this" {
  count = local.manage_value ? 1 : 0

  key_vault_id    = var.key_vault_id
  name            = var.name
  content_type    = "text/plain; sendgrid-api-key"
  expiration_date = var.expiration_date
  value           = var.value
  tags            = var.tags
}

data "azurerm_key_vault_secret" "existing" {
  count = local.manage_value ? 0 : 1

  key_vault_id = var.key_vault_id
  name         = var.name
}
