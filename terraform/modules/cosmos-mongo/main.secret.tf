# Optional: the primary MongoDB connection string written into a Key Vault the caller owns. The RU-based API for
# MongoDB has no Entra data-plane auth, so consumers get this secret as a Key Vault reference; the value goes from
# Azure to Key Vault through the Terraform state only, never through the repository.
resource "azurerm_key_vault_secret" "connection_string" {
  count = var.connection_string_secret == null ? 0 : 1

  key_vault_id    = var.connection_string_secret.key_vault_id
  name            = var.connection_string_secret.name
  content_type    = "text/plain; mongodb-connection-string"
  expiration_date = var.connection_string_secret.expiration_date
  value           = azurerm_cosmosdb_account.this.primary_mongodb_connection_string
  tags            = var.tags
}
