variable "location" {
  type        = string
  description = "Azure region, e.g. \"francecentral\"."
  nullable    = false
}

variable "name" {
  type        = string
  description = "Globally unique server name, 1 to 63 lowercase letters, digits and hyphens, e.g. \"sql-orthense-pr-123-1a2b3c\"."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "Use 1 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen, e.g. \"sql-orthense-nightly-1a2b3c\"."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the server, e.g. \"rg-orthense-nightly\"."
  nullable    = false
}

variable "entra_administrator" {
  type = object({
    login_username = string
    object_id      = string
    tenant_id      = optional(string, null)
  })
  description = <<-EOT
    Entra administrator of the server (a group, or the identity that runs Terraform and the seeds), e.g.
    { login_username = "id-nightshift-jobs", object_id = "00000000-0000-0000-0000-000000000000" }.
  EOT
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.entra_administrator.object_id))
    error_message = "entra_administrator.object_id must be an object id (GUID) of a user, group or service principal, e.g. data.azurerm_client_config.current.object_id."
  }
}

variable "sql_administrator" {
  type = object({
    login                  = optional(string, "sqladmin")
    key_vault_id           = string
    secret_name            = optional(string, "sql-admin-password")
    secret_expiration_date = optional(string, null)
    password_version       = optional(number, 1)
  })
  description = <<-EOT
    The SQL administrator, besides the Entra one: its login, and the Key Vault that receives its generated password
    as a secret (never an input, never in the state: write-only arguments), e.g.
    { key_vault_id = module.key_vault.resource_id } (login "sqladmin", secret "sql-admin-password"); raise
    password_version (1 by default) to rotate the password.
  EOT
  nullable    = false

  validation {
    condition = (
      can(regex("^[A-Za-z][A-Za-z0-9_]{0,127}$", var.sql_administrator.login))
      && !contains(["admin", "administrator", "sa", "root", "dbmanager", "loginmanager", "dbo", "guest", "public"], lower(var.sql_administrator.login))
    )
    error_message = "sql_administrator.login must be a plain identifier that Azure SQL does not reserve (not admin, administrator, sa, root, dbo, guest, public...), e.g. \"sqladmin\"."
  }

  validation {
    condition     = can(regex("(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft.KeyVault/vaults/[^/]+$", var.sql_administrator.key_vault_id))
    error_message = "sql_administrator.key_vault_id must be a Key Vault resource id, e.g. the foundation layer's key_vault_id."
  }

  validation {
    condition     = can(regex("^[0-9A-Za-z-]{1,127}$", var.sql_administrator.secret_name))
    error_message = "sql_administrator.secret_name must be 1 to 127 letters, digits and hyphens, e.g. \"sql-admin-password\"."
  }
}

variable "database" {
  type = object({
    name                        = string
    sku_name                    = optional(string, "GP_S_Gen5_1")
    auto_pause_delay_in_minutes = optional(number, 60)
    min_capacity                = optional(number, 0.5)
    max_size_gb                 = optional(number, 32)
    collation                   = optional(string, "French_CI_AS")
    storage_account_type        = optional(string, "Local")
    backup_retention_days       = optional(number, 7)
  })
  description = "The serverless database, e.g. { name = \"accounts\" } or { name = \"accounts\", auto_pause_delay_in_minutes = -1 } (never pause, prod)."
  nullable    = false

  validation {
    condition     = can(regex("^GP_S_", var.database.sku_name))
    error_message = "Use a serverless General Purpose SKU (\"GP_S_Gen5_<vcores>\"), e.g. \"GP_S_Gen5_1\"; auto-pause only exists there."
  }

  validation {
    condition     = var.database.auto_pause_delay_in_minutes == -1 || (var.database.auto_pause_delay_in_minutes >= 15 && var.database.auto_pause_delay_in_minutes <= 10080)
    error_message = "auto_pause_delay_in_minutes is -1 (never pause) or 15 to 10080, e.g. 60."
  }

  validation {
    condition     = contains(["Geo", "GeoZone", "Local", "Zone"], var.database.storage_account_type)
    error_message = "storage_account_type must be \"Geo\", \"GeoZone\", \"Local\" or \"Zone\"."
  }

  validation {
    condition     = var.database.backup_retention_days >= 1 && var.database.backup_retention_days <= 35
    error_message = "backup_retention_days must be 1 to 35, e.g. 7."
  }
}

variable "allow_azure_services" {
  type        = bool
  default     = true
  description = "Open the firewall to Azure services (0.0.0.0 rule), e.g. true when the App Service apps have no virtual network."
  nullable    = false
}

variable "public_network_access_enabled" {
  type        = bool
  default     = true
  description = "Whether the public endpoint answers (the firewall still filters it), e.g. false with a private endpoint."
  nullable    = false
}

variable "express_vulnerability_assessment_enabled" {
  type        = bool
  default     = true
  description = "Express vulnerability assessment (free, no storage account needed), e.g. true."
  nullable    = false
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags of the server and database, e.g. { \"nightshift-product\" = \"orthense\" }."
  nullable    = false
}

variable "log_analytics_workspace_id" {
  type        = string
  default     = null
  description = "Log Analytics workspace that receives the server's audit records, e.g. the foundation layer's log_analytics_workspace_id; null keeps auditing on without a destination."
}
