output "resource_group_name" {
  description = "Name of the environment's resource group, e.g. \"rg-orthense-demo-nightly\": pass it to every later layer."
  value       = terraform_data.this.output.name
}

output "resource_group_path" {
  description = "Absolute path of the resource group's directory in the local cloud."
  value       = terraform_data.this.output.path
}

output "resource_id" {
  description = "Azure-style id of the resource group."
  value       = "/subscriptions/local/resourceGroups/${terraform_data.this.output.name}"
}

output "key_vault_name" {
  description = "Name of the environment's Key Vault (secrets are read from it at run time, never stored in state)."
  value       = terraform_data.key_vault.output.name
}

output "key_vault_path" {
  description = "Absolute path of the local Key Vault's directory (secrets/<name> files)."
  value       = terraform_data.key_vault.output.path
}

output "app_insights_name" {
  description = "Name of the Application Insights component."
  value       = terraform_data.app_insights.output.name
}

output "app_insights_connection_string" {
  description = "Connection string of the local Application Insights (not a secret locally: a file:// endpoint)."
  value       = local.app_insights_connection_string
}
