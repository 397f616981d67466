# The resource group of one nightshift environment layer. The sweep finds it by its tags and deletes it whole,
# so the tags are checked here (variables.tf) rather than trusted.
resource "azurerm_resource_group" "this" {
  location = var.location
  name     = var.name
  tags     = var.tags
}

# A CanNotDelete lock would stop the sweep; it is only offered for persistent environments.
resource "azurerm_management_lock" "this" {
  count = var.lock_enabled ? 1 : 0

  lock_level = "CanNotDelete"
  name       = "lock-${var.name}"
  notes      = "Persistent nightshift environment: remove this lock before deleting on purpose."
  scope      = azurerm_resource_group.this.id
}
