variable "location" {
  type        = string
  description = "Azure region of the account (single region), e.g. \"francecentral\"."
  nullable    = false
}

variable "name" {
  type        = string
  description = "Globally unique account name, 3 to 44 lowercase letters, digits and hyphens, e.g. \"cosmos-orthense-pr-123-1a2b3c\"."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,42}[a-z0-9]$", var.name))
    error_message = "Use 3 to 44 lowercase letters, digits and hyphens, not starting or ending with a hyphen, e.g. \"cosmos-orthense-nightly-1a2b3c\"."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the account, e.g. \"rg-orthense-nightly\"."
  nullable    = false
}

variable "mongo_server_version" {
  type        = string
  default     = "7.0"
  description = "Server version of the API for MongoDB, e.g. \"7.0\"."
  nullable    = false

  validation {
    condition     = contains(["4.2", "5.0", "6.0", "7.0"], var.mongo_server_version)
    error_message = "Use one of \"4.2\", \"5.0\", \"6.0\" or \"7.0\"."
  }
}

variable "database_name" {
  type        = string
  description = "Name of the MongoDB database, e.g. \"medical\"."
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,63}$", var.database_name))
    error_message = "Use 1 to 63 letters, digits, '_' or '-', e.g. \"medical\"."
  }
}

variable "collections" {
  type = map(object({
    shard_key           = optional(string, null)
    default_ttl_seconds = optional(number, null)
    indexes = optional(map(object({
      keys   = list(string)
      unique = optional(bool, false)
    })), {})
  }))
  default     = {}
  description = <<-EOT
    Collections by name, e.g. { patients = { shard_key = "patientId", indexes = { by_email = { keys = ["email"], unique = true } } },
    observations = {} }. The _id index is always created.
  EOT
  nullable    = false

  validation {
    condition     = alltrue([for name in keys(var.collections) : can(regex("^[a-zA-Z0-9_.-]{1,120}$", name))])
    error_message = "Collection names are 1 to 120 letters, digits, '_', '.' or '-', e.g. \"patients\"."
  }

  validation {
    condition     = alltrue([for c in values(var.collections) : c.default_ttl_seconds == null || try(c.default_ttl_seconds == -1 || c.default_ttl_seconds > 0, false)])
    error_message = "default_ttl_seconds is null (no TTL), -1 (TTL per document) or a positive number of seconds, e.g. 86400."
  }
}

variable "backup" {
  type = object({
    type                = optional(string, "Continuous")
    tier                = optional(string, "Continuous7Days")
    interval_in_minutes = optional(number, 240)
    retention_in_hours  = optional(number, 8)
    storage_redundancy  = optional(string, "Local")
  })
  default     = {}
  description = "Backup policy, e.g. {} (continuous, 7 days, the cheapest for serverless) or { type = \"Periodic\", storage_redundancy = \"Geo\" }."
  nullable    = false

  validation {
    condition     = contains(["Continuous", "Periodic"], var.backup.type) && contains(["Continuous7Days", "Continuous30Days"], var.backup.tier)
    error_message = "backup.type must be \"Continuous\" or \"Periodic\" and backup.tier \"Continuous7Days\" or \"Continuous30Days\"."
  }
}

variable "public_network_access_enabled" {
  type        = bool
  default     = true
  description = "Whether the public endpoint answers (filtered by ip_range_filter), e.g. false with private endpoints."
  nullable    = false
}

variable "ip_range_filter" {
  type        = set(string)
  default     = ["0.0.0.0"]
  description = "Allowed client IPs or CIDRs, e.g. [\"0.0.0.0\"] (Azure services only, the App Service apps and nightshift's jobs) or [\"203.0.113.7\"]."
  nullable    = false
}

variable "connection_string_secret" {
  type = object({
    key_vault_id    = string
    name            = optional(string, "mongo-connection-string")
    expiration_date = optional(string, null)
  })
  default     = null
  description = "Where to store the connection string, e.g. { key_vault_id = module.key_vault.resource_id }; null stores nothing."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags of the account, e.g. { \"nightshift-product\" = \"orthense\" }."
  nullable    = false
}
