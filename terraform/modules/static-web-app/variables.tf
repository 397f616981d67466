variable "location" {
  type        = string
  description = "Region of the app's management plane (content is served globally), one of the regions Static Web Apps offers, e.g. \"westeurope\"."
  nullable    = false

  validation {
    condition     = contains(["westus2", "centralus", "eastus2", "westeurope", "eastasia"], var.location)
    error_message = "Static Web Apps exist only in westus2, centralus, eastus2, westeurope and eastasia; use \"westeurope\" for a French product."
  }
}

variable "name" {
  type        = string
  description = "Name of the static web app, 2 to 40 characters, e.g. \"stapp-orthense-pro-pr-123\"."
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,38}[a-zA-Z0-9]$", var.name))
    error_message = "Use 2 to 40 letters, digits and hyphens, not starting or ending with a hyphen, e.g. \"stapp-orthense-pro-nightly\"."
  }
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the app, e.g. \"rg-orthense-nightly\"."
  nullable    = false
}

variable "sku" {
  type        = string
  default     = "Free"
  description = "Tier and size, e.g. \"Free\" for nightly and pull-request environments, \"Standard\" for prod (custom auth, SLA, identity)."
  nullable    = false

  validation {
    condition     = contains(["Free", "Standard"], var.sku)
    error_message = "Use \"Free\" or \"Standard\"."
  }
}

variable "system_assigned_identity" {
  type        = bool
  default     = true
  description = "Give the app a system-assigned identity when the SKU allows it (Standard only), e.g. true."
  nullable    = false
}

variable "app_settings" {
  type        = map(string)
  default     = {}
  description = "Settings of the app's managed API (not visible to the browser), e.g. { ORTHENSE_API_URL = \"https://api-medical-nightly.orthense.example\" }. No secrets."
  nullable    = false
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags of the app, e.g. { \"nightshift-product\" = \"orthense\" }."
  nullable    = false
}
