output "name" {
  description = "Name of the vault."
  value       = azurerm_key_vault.this.name
}

output "resource_id" {
  description = "Resource id of the vault."
  value       = azurerm_key_vault.this.id

  # Known only once the role assignments have propagated: secrets written with it do not get 403.
  depends_on = [time_sleep.wait_for_rbac_before_secret_operations]
}

output "uri" {
  description = "Data-plane URI of the vault, e.g. https://kv-orthensepr123-1a2b3c.vault.azure.net/."
  value       = azurerm_key_vault.this.vault_uri

  # Known only once the role assignments have propagated: secrets written with it do not get 403.
  depends_on = [time_sleep.wait_for_rbac_before_secret_operations]
}

output "role_assignment_ids" {
  description = "Ids of the role assignments, by key of var.role_assignments (depend on them before writing secrets)."
  value       = { for k, ra in azurerm_role_assignment.this : k => ra.id }
}
