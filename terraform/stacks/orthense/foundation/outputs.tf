output "resource_group_name" {
  description = "Resource group of the environment; every later layer puts its resources there."
  value       = module.resource_group.name
}

output "resource_group_id" {
  description = "Resource id of the resource group."
  value       = module.resource_group.resource_id
}

output "location" {
  description = "Region of the environment."
  value       = module.resource_group.location
}

output "key_vault_id" {
  description = "Resource id of the environment's Key Vault."
  value       = module.key_vault.resource_id
}

output "key_vault_name" {
  description = "Name of the environment's Key Vault (seeds look secrets up there at run time)."
  value       = module.key_vault.name
}

output "key_vault_uri" {
  description = "URI of the environment's Key Vault."
  value       = module.key_vault.uri
}

output "log_analytics_workspace_id" {
  description = "Resource id of the Log Analytics workspace."
  value       = module.monitoring.resource_id
}

output "app_insights_id" {
  description = "Resource id of the Application Insights component."
  value       = module.monitoring.application_insights_id
}

output "app_insights_connection_string_secret_uri" {
  description = "Versionless URI of the Key Vault secret holding the Application Insights connection string."
  value       = azurerm_key_vault_secret.app_insights_connection_string.versionless_id
}

output "sendgrid_api_key_secret_uri" {
  description = "Versionless URI of the Key Vault secret holding the SendGrid API key."
  value       = module.sendgrid_secret.versionless_id
}

output "sendgrid_api_key_secret_name" {
  description = "Name of the SendGrid secret in the environment's vault."
  value       = module.sendgrid_secret.name
}

output "app_service_plan_id" {
  description = "Resource id of the Linux App Service plan the APIs run on."
  value       = azurerm_service_plan.apis.id
}
