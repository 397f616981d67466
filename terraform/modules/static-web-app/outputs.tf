output "name" {
  description = "Name of the static web app."
  value       = azurerm_static_web_app.this.name
}

output "resource_id" {
  description = "Resource id of the static web app."
  value       = azurerm_static_web_app.this.id
}

output "default_host_name" {
  description = "Default host name, e.g. nice-sea-0a1b2c3d4.5.azurestaticapps.net."
  value       = azurerm_static_web_app.this.default_host_name
}
