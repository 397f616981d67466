resource "azurerm_role_assignment" "this" {
  for_each = var.role_assignments

  principal_id                     = each.value.principal_id
  scope                            = azurerm_key_vault.this.id
  description                      = each.value.description
  principal_type                   = each.value.principal_type
  role_definition_name             = each.value.role_definition_name
  skip_service_principal_aad_check = each.value.skip_service_principal_aad_check
}
