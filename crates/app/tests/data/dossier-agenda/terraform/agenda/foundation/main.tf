variable "nightshift_tags" {
  type = map(string)
}

variable "environment" {
  type = string
}

variable "product" {
  type = string
}

variable "location" {
  type    = string
  default = "francecentral"
}

locals {
  ephemeral = var.nightshift_tags["nightshift-kind"] != "persistent"
}

resource "azurerm_resource_group" "this" {
  name     = "rg-${var.product}-${var.environment}"
  location = var.location
  tags     = var.nightshift_tags
}

resource "azurerm_key_vault" "this" {
  name                       = "kv-${var.product}-${var.environment}"
  location                   = azurerm_resource_group.this.location
  resource_group_name        = azurerm_resource_group.this.name
  tenant_id                  = "00000000-0000-0000-0000-000000000000"
  sku_name                   = "standard"
  rbac_authorization_enabled = true
  soft_delete_retention_days = 7
}

resource "azurerm_service_plan" "this" {
  name                = "asp-${var.product}-${var.environment}"
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  os_type             = "Linux"
  sku_name            = local.ephemeral ? "B1" : "P1v3"
}

output "resource_group_name" {
  value = azurerm_resource_group.this.name
}

output "location" {
  value = azurerm_resource_group.this.location
}

output "key_vault_id" {
  value = azurerm_key_vault.this.id
}

output "service_plan_id" {
  value = azurerm_service_plan.this.id
}
