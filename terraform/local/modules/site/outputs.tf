output "name" {
  description = "Resource name of the site."
  value       = terraform_data.this.output.name
}

output "url" {
  description = "Public URL, e.g. \"https://api-medical.nightly.orthense.local\"."
  value       = "https://${var.hostname}"
}

output "hostname" {
  description = "Public host name (the DNS record's name)."
  value       = var.hostname
}

output "default_hostname" {
  description = "Platform host name (the DNS record's CNAME target)."
  value       = local.default_hostname
}

output "descriptor_path" {
  description = "Absolute path of the site's descriptor (site.json)."
  value       = "${terraform_data.this.output.path}/site.json"
}
