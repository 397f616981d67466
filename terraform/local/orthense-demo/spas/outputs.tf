output "urls" {
  description = "Public URL of each SPA by key, e.g. { pro = \"https://pro.nightly.orthense.local\", ... }."
  value       = { for k, m in module.this : k => m.url }
}

output "hostnames" {
  description = "Public host name of each SPA by key."
  value       = { for k, m in module.this : k => m.hostname }
}

output "default_hostnames" {
  description = "Platform host name of each SPA by key (the CNAME targets)."
  value       = { for k, m in module.this : k => m.default_hostname }
}
