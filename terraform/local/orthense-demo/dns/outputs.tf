output "records" {
  description = "Published records, host name -> record, e.g. { \"api-medical.nightly.orthense.local\" = \"CNAME edge.local-cloud.internal\" }."
  value       = { for k, r in terraform_data.record : k => local.records[k] }
}

output "zone_name" {
  description = "The shared parent zone the records are in, outside every resource group, e.g. \"orthense.local\"."
  value       = local.zone_name
}

output "records_dir" {
  description = "Absolute path of the zone's records in the local cloud: one <host name>.json per record, e.g. \"/var/lib/nightshift/cloud/dns-zones/orthense.local/records\"."
  value       = local.records_path
}
