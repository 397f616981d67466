output "database_path" {
  description = "Absolute path of the SQLite file standing in for the PostgreSQL database (the seeds' and smoke's input)."
  value       = module.this.database_path
}

output "database_name" {
  description = "Name of the database, e.g. \"vao\"."
  value       = var.database_name
}

output "server_name" {
  description = "Name of the PostgreSQL server, e.g. \"psql-vao-demo-pr-7\"."
  value       = module.this.name
}

output "server_fqdn" {
  description = "Host name the backend connects to on port 5432."
  value       = "${module.this.name}.postgres.database.local"
}
