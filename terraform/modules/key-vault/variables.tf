variable "location" {
  type        = string
  description = "Azure region of the vault, e.g. \"francecentral\"."
  nullable    = false
}

variable "name" {
  type        = string
  description = "Globally unique vault name, 3 to 24 characters, e.g. \"kv-orthensepr123-1a2b3c\" (product, environment and a short hash)."
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", var.name)) && !strcontains(var.name, "--")
    error_message = "Use 3 to 24 letters, digits and single hyphens, starting with a letter and ending with a letter or digit, e.g. \"kv-orthensepr123-1a2b3c\"; shorten the product/environment part and keep the hash."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group that holds the vault (created by the resource-group module), e.g. \"rg-orthense-nightly\"."
  nullable    = false
}

variable "tenant_id" {
  type        = string
  description = "Entra tenant id that authenticates requests to the vault, e.g. data.azurerm_client_config.current.tenant_id."
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.tenant_id))
    error_message = "Pass a tenant GUID, e.g. \"00000000-0000-0000-0000-000000000000\" (data.azurerm_client_config.current.tenant_id)."
  }
}

variable "sku_name" {
  type        = string
  default     = "standard"
  description = "Vault SKU, e.g. \"standard\" or \"premium\" (HSM-backed keys)."
  nullable    = false

  validation {
    condition     = contains(["standard", "premium"], var.sku_name)
    error_message = "Use \"standard\" or \"premium\"."
  }
}

variable "purge_protection_enabled" {
  type        = bool
  default     = true
  description = <<-EOT
    Purge protection, e.g. false for nightly and pull-request environments (the soft-deleted vault can then be purged
    after the sweep and its name reused at once), true for persistent ones. Once on it cannot be turned off.
  EOT
  nullable    = false
}

variable "soft_delete_retention_days" {
  type        = number
  default     = 7
  description = "Days a deleted vault and its secrets stay recoverable, 7 to 90, e.g. 7 for ephemeral environments and 90 for prod."
  nullable    = false

  validation {
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 90
    error_message = "Use a whole number of days from 7 to 90, e.g. 7."
  }
}

variable "public_network_access_enabled" {
  type        = bool
  default     = true
  description = "Whether the public endpoint answers at all (network_acls still filter it), e.g. false once private endpoints exist."
  nullable    = false
}

variable "network_acls" {
  type = object({
    bypass                     = optional(string, "AzureServices")
    default_action             = optional(string, "Deny")
    ip_rules                   = optional(set(string), [])
    virtual_network_subnet_ids = optional(set(string), [])
  })
  default     = {}
  description = <<-EOT
    Network rules of the vault, e.g. { default_action = "Allow" } for an environment whose App Service apps have no
    virtual network (they resolve Key Vault references over the public endpoint), or
    { default_action = "Deny", ip_rules = ["203.0.113.0/24"] }.
  EOT
  nullable    = false

  validation {
    condition     = contains(["Allow", "Deny"], var.network_acls.default_action) && contains(["AzureServices", "None"], var.network_acls.bypass)
    error_message = "network_acls.default_action must be \"Allow\" or \"Deny\" and network_acls.bypass \"AzureServices\" or \"None\"."
  }
}

variable "role_assignments" {
  type = map(object({
    principal_id                     = string
    role_definition_name             = string
    description                      = optional(string, null)
    principal_type                   = optional(string, "ServicePrincipal")
    skip_service_principal_aad_check = optional(bool, false)
  }))
  default     = {}
  description = <<-EOT
    Data-plane roles on the vault, keyed by a stable name, e.g.
    { deployer = { principal_id = "<object id>", role_definition_name = "Key Vault Secrets Officer" },
      api = { principal_id = "<object id>", role_definition_name = "Key Vault Secrets User" } }.
  EOT
  nullable    = false

  validation {
    condition     = alltrue([for ra in values(var.role_assignments) : startswith(ra.role_definition_name, "Key Vault ")])
    error_message = "Grant only Key Vault data-plane roles here (\"Key Vault Secrets User\", \"Key Vault Secrets Officer\", ...); give other roles at another scope."
  }

  validation {
    condition     = alltrue([for ra in values(var.role_assignments) : contains(["User", "Group", "ServicePrincipal"], ra.principal_type)])
    error_message = "principal_type must be \"User\", \"Group\" or \"ServicePrincipal\" (managed identities are \"ServicePrincipal\")."
  }
}

variable "log_analytics_workspace_id" {
  type        = string
  default     = null
  description = "Log Analytics workspace that receives the vault's audit logs, e.g. the monitoring module's resource_id; null sends none."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags of the vault, e.g. { \"nightshift-product\" = \"orthense\" }."
  nullable    = false
}

variable "deployer_principal_type" {
  type        = string
  default     = "ServicePrincipal"
  description = "Kind of the identity that applies the configuration (it always gets Secrets Officer), e.g. \"ServicePrincipal\" for nightshift's jobs, \"User\" for an operator's az login."
  nullable    = false

  validation {
    condition     = contains(["User", "ServicePrincipal"], var.deployer_principal_type)
    error_message = "Use \"ServicePrincipal\" (managed identity, CI) or \"User\" (az login)."
  }
}

variable "wait_for_rbac_before_secret_operations" {
  type = object({
    create = optional(string, "60s")
  })
  default     = {}
  description = "How long to wait after the role assignments before secrets are written (RBAC propagation), e.g. { create = \"60s\" }."
  nullable    = false
}
