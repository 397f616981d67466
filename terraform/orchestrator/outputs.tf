output "resource_group_name" {
  description = "Resource group of the orchestrator."
  value       = azurerm_resource_group.this.name
}

output "function_app_name" {
  description = "Name of the function app."
  value       = azurerm_linux_function_app.this.name
}

output "function_app_id" {
  description = "Resource id of the function app."
  value       = azurerm_linux_function_app.this.id
}

output "function_app_hostname" {
  description = "Default host name of the function app (release HTTP endpoint: https://<host>/api/...)."
  value       = azurerm_linux_function_app.this.default_hostname
}

output "servicebus_namespace" {
  description = "Fully qualified Service Bus namespace."
  value       = local.servicebus_fqdn
}

output "storage_account_name" {
  description = "Storage account holding journals, logs and Terraform state (backend: use_azuread_auth = true)."
  value       = azurerm_storage_account.this.name
}

output "state_container_name" {
  description = "Container of the Terraform states."
  value       = azurerm_storage_container.this["tfstate"].name
}

output "key_vault_name" {
  description = "Vault of the step secrets (operators put sendgrid-api-key, cloudflare-api-token there)."
  value       = module.key_vault.name
}

output "registry_login_server" {
  description = "Login server of the registry the runner image is pushed to."
  value       = azurerm_container_registry.this.login_server
}

output "jobs_identity_id" {
  description = "Resource id of the jobs' user-assigned identity."
  value       = azurerm_user_assigned_identity.jobs.id
}

output "jobs_identity_client_id" {
  description = "Client id of the jobs' identity (ARM_CLIENT_ID inside the jobs)."
  value       = azurerm_user_assigned_identity.jobs.client_id
}

output "orchestrator_identity_client_id" {
  description = "Client id of the function app's identity."
  value       = azurerm_user_assigned_identity.orchestrator.client_id
}

output "workbook_id" {
  description = "Resource id of the portal workbook."
  value       = azurerm_application_insights_workbook.this.id
}
