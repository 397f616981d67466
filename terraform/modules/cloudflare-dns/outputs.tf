output "name" {
  description = "Fully qualified name of each record, by key."
  value       = { for k, r in cloudflare_dns_record.this : k => r.name }
}

output "resource_id" {
  description = "Cloudflare id of each record, by key."
  value       = { for k, r in cloudflare_dns_record.this : k => r.id }
}
