output "resource_group_name" {
  description = "Name of the environment's resource group, e.g. \"rg-vao-demo-pr-7\": pass it to every later layer."
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
  description = "Name of the environment's Key Vault (the backend reads its secrets from it at run time)."
  value       = module.key_vault.name
}
