output "resource_group" {
  description = "Resource group of the environment (subscription scope, 90 characters), e.g. \"rg-orthense-pr-123\"."
  value       = "rg-${local.base_name}"
}

output "name_hash" {
  description = "The 6-character hash of instance, product and environment."
  value       = local.name_hash
}

output "key_vault" {
  description = "Key Vault (global, 3 to 24 characters): 3 + 13 + 1 + 6 = 23 at most."
  value       = "kv-${substr(local.compact_name, 0, 13)}-${local.name_hash}"
}

output "cosmos_account" {
  description = "Cosmos DB account (global, 3 to 44 characters): 7 + 30 + 1 + 6 = 44 at most."
  value       = "cosmos-${local.short_name}-${local.name_hash}"
}

output "sql_server" {
  description = "Azure SQL logical server (global, 1 to 63 characters): 4 + 30 + 1 + 6 = 41 at most."
  value       = "sql-${local.short_name}-${local.name_hash}"
}

output "app_accounts" {
  description = "App Service site of the accounts API (global, 2 to 60 characters): 4 + 30 + 5 + 6 = 45 at most."
  value       = "app-${local.short_name}-acc-${local.name_hash}"
}

output "app_medical" {
  description = "App Service site of the medical API (global, 2 to 60 characters): 4 + 30 + 5 + 6 = 45 at most."
  value       = "app-${local.short_name}-med-${local.name_hash}"
}

output "static_web_apps" {
  description = "Static Web Apps by key (1 to 40 characters): 6 + 10 + 1 + 16 + 1 + 6 = 40 at most."
  value       = { for k in var.static_web_apps : k => "stapp-${k}-${trimsuffix(substr(local.compact_name, 0, 16), "-")}-${local.name_hash}" }
}

output "log_analytics_workspace" {
  description = "Log Analytics workspace (4 to 63 characters): 4 + 57 = 61 at most."
  value       = "log-${local.base_name}"
}
