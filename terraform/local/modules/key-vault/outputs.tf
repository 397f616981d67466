output "name" {
  description = "The vault's name."
  value       = terraform_data.this.output.name
}

output "path" {
  description = "Absolute path of the vault's directory (secrets/<name> files)."
  value       = terraform_data.this.output.path
}
