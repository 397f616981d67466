# The SQL admin's password: generated here by an ephemeral random_password and handed to the server and to the
# environment's Key Vault through write-only arguments, so it is in neither the plan nor the Terraform state (only
# the vault holds it). The seeds read it from the vault at run time with the jobs' identity. The value is sent once
# (version 1); to rotate it, raise sql_administrator.password_version: a new password goes to both at once.
ephemeral "random_password" "administrator" {
  length           = 32
  min_lower        = 2
  min_numeric      = 2
  min_special      = 2
  min_upper        = 2
  override_special = "!#%*()-_=+[]{}:?"
}

resource "azurerm_key_vault_secret" "administrator_password" {
  #checkov:skip=CKV_AZURE_41:The password lives exactly as long as the server (the sweep deletes both); an expired secret would break the seed of the next re-run. Callers can still set sql_administrator.secret_expiration_date.
  key_vault_id     = var.sql_administrator.key_vault_id
  name             = var.sql_administrator.secret_name
  content_type     = "text/plain; sql-admin-password"
  expiration_date  = var.sql_administrator.secret_expiration_date
  value_wo         = ephemeral.random_password.administrator.result
  value_wo_version = var.sql_administrator.password_version
  tags             = var.tags
}
