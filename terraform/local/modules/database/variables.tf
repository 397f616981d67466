variable "resource_group_path" {
  type        = string
  description = "Absolute path of the resource group directory the server lives in, e.g. \"/var/lib/nightshift/cloud/resource-groups/rg-orthense-demo-nightly\"."

  validation {
    condition     = can(regex("^/.+/resource-groups/rg-[a-z0-9-]+$", var.resource_group_path))
    error_message = "resource_group_path must be an absolute <local_cloud_dir>/resource-groups/rg-... path."
  }
}

variable "product" {
  type        = string
  description = "The product the resource group must be tagged for, e.g. \"orthense-demo\"."
}

variable "environment" {
  type        = string
  description = "The environment the resource group must be tagged for, e.g. \"nightly\"."
}

variable "kind" {
  type        = string
  description = "\"sql-server\" (the SQL Server-like store), \"cosmosdb-mongo\" (the MongoDB-like store) or \"postgresql\" (a PostgreSQL flexible server)."

  validation {
    condition     = contains(["sql-server", "cosmosdb-mongo", "postgresql"], var.kind)
    error_message = "kind must be \"sql-server\", \"cosmosdb-mongo\" or \"postgresql\"."
  }
}

variable "name" {
  type        = string
  description = "Server or account name, e.g. \"sql-orthense-demo-nightly\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,62}$", var.name))
    error_message = "name must be 2..63 lowercase letters, digits and '-', starting with a letter."
  }
}

variable "database_name" {
  type        = string
  description = "The database, e.g. \"orthense-accounts\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,62}$", var.database_name))
    error_message = "database_name must be 2..63 lowercase letters, digits and '-', starting with a letter."
  }
}

variable "descriptor" {
  type        = map(string)
  description = "Extra fields of the server's descriptor file, e.g. { fqdn = \"sql-x.database.local\" }."
  default     = {}
  nullable    = false
}

variable "simulated_seconds" {
  type        = number
  description = "How long creation takes, scaled down from Azure's (e.g. 4 for a Cosmos DB account)."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60."
  }
}
