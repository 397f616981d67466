output "spa_ids" {
  description = "Resource id of each Static Web App, by SPA key."
  value       = { for k, m in module.spa : k => m.resource_id }
}

output "spa_default_hostnames" {
  description = "Default host name of each SPA, by key."
  value       = { for k, m in module.spa : k => m.default_host_name }
}

output "spa_custom_hostnames" {
  description = "Custom host name of each SPA, by key (empty without dns_zone_name)."
  value       = local.custom_hostnames
}

output "spa_origins" {
  description = "Every origin the SPAs are served from, for the APIs' CORS and OAuth redirect lists."
  value       = local.spa_origins
}
