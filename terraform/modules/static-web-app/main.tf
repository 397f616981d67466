# One single-page application on Azure Static Web Apps. The site is deployed by the product's pipeline with the
# deployment token (read at deploy time, never stored here), not from a linked repository.
resource "azurerm_static_web_app" "this" {
  location                           = var.location
  name                               = var.name
  resource_group_name                = var.resource_group_name
  app_settings                       = var.app_settings
  configuration_file_changes_enabled = true
  preview_environments_enabled       = false
  public_network_access_enabled      = true
  sku_size                           = var.sku
  sku_tier                           = var.sku
  tags                               = var.tags

  dynamic "identity" {
    for_each = var.sku == "Standard" && var.system_assigned_identity ? [1] : []

    content {
      type = "SystemAssigned"
    }
  }
}
