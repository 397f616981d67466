output "app_name" {
  description = "Name of the App Service app."
  value       = module.api.name
}

output "app_id" {
  description = "Resource id of the App Service app."
  value       = module.api.resource_id
}

output "default_hostname" {
  description = "Default host name of the API."
  value       = module.api.default_hostname
}

output "api_url" {
  description = "Base URL of the API, also the JWT issuer, e.g. https://app-orthense-nightly-acc-1a2b3c.azurewebsites.net."
  value       = local.issuer
}

output "custom_domain_verification_id" {
  description = "Value for the asuid TXT record of a custom domain."
  sensitive   = true
  value       = module.api.custom_domain_verification_id
}

output "identity_name" {
  description = "Name of the API's managed identity: seed-sql creates its database user (WITH SID = identity_client_id, TYPE = E)."
  value       = azurerm_user_assigned_identity.api.name
}

output "identity_client_id" {
  description = "Client id of the API's managed identity."
  value       = azurerm_user_assigned_identity.api.client_id
}

output "identity_principal_id" {
  description = "Object id of the API's managed identity."
  value       = azurerm_user_assigned_identity.api.principal_id
}
