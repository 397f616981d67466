data "azurerm_client_config" "current" {}

resource "azurerm_role_assignment" "this" {
  for_each = var.role_assignments

  principal_id                     = each.value.principal_id
  scope                            = azurerm_key_vault.this.id
  description                      = each.value.description
  principal_type                   = each.value.principal_type
  role_definition_name             = each.value.role_definition_name
  skip_service_principal_aad_check = each.value.skip_service_principal_aad_check
}

# Whoever applies writes the secrets of this configuration: always Secrets Officer, whatever the caller grants
# (an operators group the deployer is not in would otherwise make the first secret write fail with 403).
resource "azurerm_role_assignment" "deployer" {
  principal_id         = data.azurerm_client_config.current.object_id
  scope                = azurerm_key_vault.this.id
  description          = "The identity that applies this configuration writes its secrets."
  principal_type       = var.deployer_principal_type
  role_definition_name = "Key Vault Secrets Officer"
}

# Azure RBAC takes up to a few minutes to propagate: a secret written right after its role assignment is refused
# (403). Like the Azure Verified Module's wait_for_rbac_before_secret_operations, wait before the outputs (which
# every secret, key and consumer reads) are known.
resource "time_sleep" "wait_for_rbac_before_secret_operations" {
  create_duration = var.wait_for_rbac_before_secret_operations.create

  triggers = {
    role_assignments = jsonencode(concat([azurerm_role_assignment.deployer.id], [for ra in azurerm_role_assignment.this : ra.id]))
  }
}
