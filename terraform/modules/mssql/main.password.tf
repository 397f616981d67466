# The SQL admin's password: generated here, kept only in the environment's Key Vault (and the Terraform state, which
# lives in the Entra-only state account). Nothing is in the repository, the catalog or an app setting. The seeds read
# it from the vault at run time with the jobs' identity.
resource "random_password" "administrator" {
  length           = 32
  min_lower        = 2
  min_numeric      = 2
  min_special      = 2
  min_upper        = 2
  override_special = "!#%*()-_=+[]{}:?"
}

resource "azurerm_key_vault_secret" "administrator_password" {
  #checkov:skip=CKV_AZURE_41:The password lives exactly as long as the server (the sweep deletes both); an expired secret would break the seed of the next re-run. Callers can still set sql_administrator.secret_expiration_date.
  key_vault_id    = var.sql_administrator.key_vault_id
  name            = var.sql_administrator.secret_name
  content_type    = "text/plain; sql-admin-password"
  expiration_date = var.sql_administrator.secret_expiration_date
  value           = random_password.administrator.result
  tags            = var.tags
}
