output "name" {
  description = "The resource group's name."
  value       = terraform_data.this.output.name
}

output "path" {
  description = "Absolute path of the resource group's directory."
  value       = terraform_data.this.output.path
}

output "resource_id" {
  description = "Azure-style id of the resource group."
  value       = "/subscriptions/local/resourceGroups/${terraform_data.this.output.name}"
}
