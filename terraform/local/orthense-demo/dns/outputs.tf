output "records" {
  description = "Published records, host name -> record, e.g. { \"api-medical.nightly.orthense.local\" = \"CNAME edge.local-cloud.internal\" }."
  value       = local.records
}

output "zone_name" {
  description = "The environment's DNS zone, e.g. \"nightly.orthense.local\"."
  value       = terraform_data.this.output.name
}

output "records_path" {
  description = "Absolute path of the zone's records.json in the local cloud."
  value       = "${terraform_data.this.output.path}/records.json"
}
