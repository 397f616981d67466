output "name" {
  description = "Name of the app."
  value       = azurerm_linux_web_app.this.name
}

output "resource_id" {
  description = "Resource id of the app."
  value       = azurerm_linux_web_app.this.id
}

output "default_hostname" {
  description = "Default host name, e.g. app-orthense-medical-nightly-1a2b3c.azurewebsites.net."
  value       = azurerm_linux_web_app.this.default_hostname
}

output "custom_domain_verification_id" {
  description = "Value of the asuid TXT record that proves ownership of a custom domain (the provider marks it sensitive)."
  sensitive   = true
  value       = azurerm_linux_web_app.this.custom_domain_verification_id
}

output "system_assigned_principal_id" {
  description = "Object id of the system-assigned identity, or null."
  value       = try(azurerm_linux_web_app.this.identity[0].principal_id, null)
}
