output "name" {
  description = "The server or account name."
  value       = terraform_data.this.output.name
}

output "database_path" {
  description = "Absolute path of the SQLite file standing in for the database."
  value       = terraform_data.this.output.database_path
}
