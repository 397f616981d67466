# What runs nightshift itself: a Linux Function App (custom handler, the Rust binary) on an Elastic Premium plan,
# Service Bus queues between its functions, a storage account for journals, logs and every Terraform state, a Key
# Vault for the secrets steps ask for, monitoring, a registry for the runner image, and two user-assigned
# identities with the narrowest roles Azure allows (main.rbac.tf).
data "azurerm_client_config" "current" {}

data "azurerm_subscription" "current" {}

resource "azurerm_resource_group" "this" {
  location = var.location
  name     = "rg-${var.instance_name}"
  tags     = local.tags
}

# Container groups of the jobs live in their own group, so the function's right to create and delete them stops
# there.
resource "azurerm_resource_group" "jobs" {
  location = var.location
  name     = "rg-${var.instance_name}-jobs"
  tags     = local.tags
}

resource "azurerm_user_assigned_identity" "orchestrator" {
  location            = azurerm_resource_group.this.location
  name                = "id-${var.instance_name}-orchestrator"
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

resource "azurerm_user_assigned_identity" "jobs" {
  location            = azurerm_resource_group.this.location
  name                = "id-${var.instance_name}-jobs"
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

# Nothing here is deleted by accident, nor by a job (the jobs' role excludes Microsoft.Authorization/locks/delete).
resource "azurerm_management_lock" "orchestrator" {
  count = var.lock_orchestrator_resource_group ? 1 : 0

  lock_level = "CanNotDelete"
  name       = "nightshift-orchestrator"
  scope      = azurerm_resource_group.this.id
  notes      = "nightshift's orchestrator: remove this lock before terraform destroy."
}
