output "url" {
  description = "Public URL of the API, e.g. \"https://api-accounts.nightly.orthense.local\"."
  value       = module.this.url
}

output "hostname" {
  description = "Public host name of the API (a DNS record)."
  value       = module.this.hostname
}

output "default_hostname" {
  description = "Platform host name of the API (the CNAME target)."
  value       = module.this.default_hostname
}

output "app_name" {
  description = "Resource name of the App Service."
  value       = module.this.name
}

output "descriptor_path" {
  description = "Absolute path of the app's descriptor (site.json) in the local cloud."
  value       = module.this.descriptor_path
}
