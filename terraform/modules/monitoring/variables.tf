variable "location" {
  type        = string
  description = "Azure region, e.g. \"francecentral\"."
  nullable    = false
}

variable "name" {
  type        = string
  description = "Name of the Log Analytics workspace, 4 to 63 characters, e.g. \"log-orthense-nightly\"."
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]$", var.name))
    error_message = "Use 4 to 63 letters, digits and hyphens, starting and ending with a letter or digit, e.g. \"log-orthense-nightly\"."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the workspace and the component, e.g. \"rg-orthense-nightly\"."
  nullable    = false
}

variable "retention_in_days" {
  type        = number
  default     = 30
  description = "Retention of logs and telemetry in days, e.g. 30 for ephemeral environments, 90 for prod."
  nullable    = false

  validation {
    condition     = contains([30, 60, 90, 120, 180, 270, 365, 550, 730], var.retention_in_days)
    error_message = "Use one of 30, 60, 90, 120, 180, 270, 365, 550 or 730 (the values Application Insights accepts)."
  }
}

variable "daily_quota_gb" {
  type        = number
  default     = -1
  description = "Daily ingestion cap of the workspace in GB, e.g. 1 for a nightly environment; -1 for no cap."
  nullable    = false

  validation {
    condition     = var.daily_quota_gb == -1 || var.daily_quota_gb > 0
    error_message = "Use -1 (no cap) or a positive number of GB, e.g. 1."
  }
}

variable "application_insights" {
  type = object({
    name                          = optional(string, null)
    application_type              = optional(string, "web")
    daily_data_cap_in_gb          = optional(number, 10)
    local_authentication_disabled = optional(bool, false)
    sampling_percentage           = optional(number, 100)
  })
  default     = {}
  description = <<-EOT
    Settings of the Application Insights component, e.g. { name = "appi-orthense-nightly", daily_data_cap_in_gb = 1,
    local_authentication_disabled = true } (then senders need the "Monitoring Metrics Publisher" role and Entra tokens).
    The name defaults to the workspace name with "log-" replaced by "appi-".
  EOT
  nullable    = false

  validation {
    condition     = contains(["web", "other"], var.application_insights.application_type)
    error_message = "application_insights.application_type must be \"web\" or \"other\"."
  }

  validation {
    condition     = var.application_insights.sampling_percentage > 0 && var.application_insights.sampling_percentage <= 100
    error_message = "application_insights.sampling_percentage must be in (0, 100], e.g. 100 to keep everything."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags of both resources, e.g. { \"nightshift-product\" = \"orthense\" }."
  nullable    = false
}
