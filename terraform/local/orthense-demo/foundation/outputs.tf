output "resource_group_name" {
  description = "Name of the environment's resource group, e.g. \"rg-orthense-demo-nightly\": pass it to every later layer."
  value       = module.resource_group.name
}

output "resource_group_path" {
  description = "Absolute path of the resource group's directory in the local cloud."
  value       = module.resource_group.path
}

output "resource_id" {
  description = "Azure-style id of the resource group."
  value       = module.resource_group.resource_id
}

output "key_vault_name" {
  description = "Name of the environment's Key Vault (secrets are read from it at run time, never stored in state)."
  value       = module.key_vault.name
}

output "key_vault_path" {
  description = "Absolute path of the local Key Vault's directory (secrets/<name> files)."
  value       = module.key_vault.path
}

output "app_insights_name" {
  description = "Name of the Application Insights component."
  value       = terraform_data.app_insights.output.name
}

output "app_insights_connection_string" {
  description = "Connection string of the local Application Insights (not a secret locally: a file:// endpoint)."
  value       = local.app_insights_connection_string
}
