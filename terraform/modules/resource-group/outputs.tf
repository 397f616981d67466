output "location" {
  description = "Region of the resource group."
  value       = azurerm_resource_group.this.location
}

output "name" {
  description = "Name of the resource group."
  value       = azurerm_resource_group.this.name
}

output "resource" {
  description = "The resource group object."
  value       = azurerm_resource_group.this
}

output "resource_id" {
  description = "Resource id of the resource group."
  value       = azurerm_resource_group.this.id
}
