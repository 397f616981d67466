# Only in "password" mode: a generated admin password, stored as a Key Vault secret. Nothing is in the repository.
resource "random_password" "administrator" {
  count = local.password_auth ? 1 : 0

  length           = 32
  min_lower        = 2
  min_numeric      = 2
  min_special      = 2
  min_upper        = 2
  override_special = "!#%*()-_=+[]{}:?"
}

resource "azurerm_key_vault_secret" "administrator_password" {
  count = local.password_auth ? 1 : 0

  key_vault_id    = var.authentication.key_vault_id
  name            = var.authentication.secret_name
  content_type    = "text/plain; sql-admin-password"
  expiration_date = var.authentication.secret_expiration_date
  value           = random_password.administrator[0].result
  tags            = var.tags
}
