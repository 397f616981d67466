variable "location" {
  type        = string
  description = "Azure region, e.g. \"francecentral\"."
  nullable    = false
}

variable "name" {
  type        = string
  description = "Globally unique app name (<name>.azurewebsites.net), 2 to 60 characters, e.g. \"app-orthense-medical-pr-123-1a2b3c\"."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$", var.name))
    error_message = "Use 2 to 60 lowercase letters, digits and hyphens, not starting or ending with a hyphen, e.g. \"app-orthense-medical-nightly-1a2b3c\"."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the app, e.g. \"rg-orthense-nightly\"."
  nullable    = false
}

variable "service_plan_id" {
  type        = string
  description = "Resource id of the Linux App Service plan the app runs on (created by the caller), e.g. the foundation layer's app_service_plan_id."
  nullable    = false

  validation {
    condition     = can(regex("(?i)/providers/Microsoft.Web/serverFarms/[^/]+$", var.service_plan_id))
    error_message = "Pass the resource id of an App Service plan, e.g. \"/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Web/serverFarms/asp-orthense-nightly\"."
  }
}

variable "managed_identities" {
  type = object({
    system_assigned                 = optional(bool, false)
    user_assigned_resource_ids      = optional(set(string), [])
    key_vault_reference_identity_id = optional(string, null)
  })
  default     = { system_assigned = true }
  description = <<-EOT
    Identities of the app, e.g. { user_assigned_resource_ids = [azurerm_user_assigned_identity.api.id] } (recommended:
    the identity can be granted "Key Vault Secrets User" before the app exists, so references resolve at first start)
    or { system_assigned = true }. key_vault_reference_identity_id picks one of several user-assigned identities.
  EOT
  nullable    = false

  validation {
    condition     = var.managed_identities.system_assigned || length(var.managed_identities.user_assigned_resource_ids) > 0
    error_message = "Give the app an identity: system_assigned = true or at least one user_assigned_resource_ids entry; Key Vault references need one."
  }
}

variable "application_stack" {
  type = object({
    docker_image_name   = optional(string, null)
    docker_registry_url = optional(string, null)
    dotnet_version      = optional(string, null)
    node_version        = optional(string, null)
    python_version      = optional(string, null)
  })
  default     = { dotnet_version = "8.0" }
  description = "Runtime of the API, e.g. { dotnet_version = \"8.0\" } or { docker_image_name = \"orthense/medical-api:1.4.2\", docker_registry_url = \"https://acrnightshift.azurecr.io\" }."
  nullable    = false

  validation {
    condition = length(compact([
      var.application_stack.docker_image_name, var.application_stack.dotnet_version,
      var.application_stack.node_version, var.application_stack.python_version,
    ])) == 1
    error_message = "Set exactly one of docker_image_name, dotnet_version, node_version or python_version."
  }
}

variable "app_settings" {
  type        = map(string)
  default     = {}
  description = "Plain (non-secret) app settings, e.g. { MONGO_DATABASE = \"medical\", JWT_ISSUER = \"https://accounts.example\" }. Put secrets in key_vault_references."
  nullable    = false

  validation {
    condition = alltrue([
      for k, v in var.app_settings : !can(regex("(?i)(password|pwd=|accountkey=|sharedaccesskey|apikey=|instrumentationkey=)", v))
    ])
    error_message = "An app setting looks like it holds a secret (password, account key, API key...). Store it in Key Vault and pass its URI in key_vault_references instead."
  }
}

variable "key_vault_references" {
  type        = map(string)
  default     = {}
  description = <<-EOT
    App settings resolved from Key Vault, setting name -> versionless secret URI, e.g.
    { SENDGRID_API_KEY = "https://kv-orthensenightly-1a2b3c.vault.azure.net/secrets/sendgrid-api-key" }.
    Each becomes "@Microsoft.KeyVault(SecretUri=<uri>)".
  EOT
  nullable    = false

  validation {
    condition     = alltrue([for uri in values(var.key_vault_references) : can(regex("^https://[a-zA-Z0-9-]+\\.vault\\.azure\\.net/secrets/[a-zA-Z0-9-]+/?$", uri))])
    error_message = "Each value must be a versionless secret URI, e.g. \"https://kv-x.vault.azure.net/secrets/sendgrid-api-key\" (the versionless_id of azurerm_key_vault_secret), so rotation needs no redeploy."
  }
}

variable "application_insights_connection_string_secret_uri" {
  type        = string
  default     = null
  description = "Versionless URI of the Key Vault secret holding the Application Insights connection string, e.g. the foundation layer's output; null disables telemetry."
}

variable "cors_allowed_origins" {
  type        = set(string)
  default     = []
  description = "Origins allowed to call the API from a browser, e.g. [\"https://pro-nightly.orthense.example\"]."
  nullable    = false

  validation {
    condition     = !contains(var.cors_allowed_origins, "*")
    error_message = "Do not allow \"*\": list the SPA origins, e.g. [\"https://pro-nightly.orthense.example\"]; credentials are sent cross-origin."
  }
}

variable "health_check_path" {
  type        = string
  default     = "/health"
  description = "Path App Service probes to take unhealthy instances out, e.g. \"/health\"; null disables it."
}

variable "always_on" {
  type        = bool
  default     = true
  description = "Keep the app loaded, e.g. true (needs a Basic or higher plan)."
  nullable    = false
}

variable "client_certificate_mode" {
  type        = string
  default     = "Optional"
  description = "Client certificate mode, e.g. \"Optional\" (browsers and SPAs call the API with bearer tokens) or \"Required\"."
  nullable    = false

  validation {
    condition     = contains(["Required", "Optional", "OptionalInteractiveUser"], var.client_certificate_mode)
    error_message = "Use \"Required\", \"Optional\" or \"OptionalInteractiveUser\"."
  }
}

variable "public_network_access_enabled" {
  type        = bool
  default     = true
  description = "Whether the app answers on its public endpoint, e.g. true for a public API."
  nullable    = false
}

variable "log_retention_days" {
  type        = number
  default     = 7
  description = "Days the HTTP logs are kept on the app's file system, e.g. 7."
  nullable    = false

  validation {
    condition     = var.log_retention_days >= 1 && var.log_retention_days <= 99999
    error_message = "Use a positive number of days, e.g. 7."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags of the app, e.g. { \"nightshift-product\" = \"orthense\" }."
  nullable    = false
}
