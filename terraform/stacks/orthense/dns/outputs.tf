output "spa_urls" {
  description = "Public URL of each SPA, by key."
  value       = { for k in keys(var.spa_ids) : k => "https://${azurerm_static_web_app_custom_domain.spa[k].domain_name}" }
}

output "api_urls" {
  description = "Public URL of each API, by key (medical, accounts)."
  value       = { for k, b in azurerm_app_service_custom_hostname_binding.api : k => "https://${b.hostname}" }
}

output "record_names" {
  description = "Fully qualified name of every record, by key."
  value       = module.records.name
}
