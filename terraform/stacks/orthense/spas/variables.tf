variable "resource_group_name" {
  type        = string
  description = "Resource group of the environment ($${foundation.resource_group_name}), e.g. \"rg-orthense-nightly\"."
  nullable    = false
}

variable "static_web_app_location" {
  type        = string
  default     = "westeurope"
  description = "Region of the Static Web Apps' management plane (content is served globally), e.g. \"westeurope\"."
  nullable    = false
}

variable "spas" {
  type = map(object({
    display_name   = string
    record_name    = string
    persistent_sku = optional(string, "Standard")
  }))
  default = {
    pro        = { display_name = "Site PRO", record_name = "pro" }
    patient    = { display_name = "Site PATIENT", record_name = "patient" }
    backoffice = { display_name = "Site Backoffice", record_name = "backoffice" }
  }
  description = "The SPAs by key, e.g. { pro = { display_name = \"Site PRO\", record_name = \"pro\" } }; ephemeral environments always use the Free SKU."
  nullable    = false

  validation {
    condition     = alltrue([for k, s in var.spas : can(regex("^[a-z][a-z0-9]{1,11}$", k)) && can(regex("^[a-z][a-z0-9-]{0,30}$", s.record_name))])
    error_message = "SPA keys are 2 to 12 lowercase letters and digits (they go into the 40-character app name), record names lowercase DNS labels, e.g. pro = { record_name = \"pro\" }."
  }
}

variable "dns_zone_name" {
  type        = string
  default     = null
  description = "Cloudflare zone the dns layer publishes the SPAs in, e.g. \"orthense.example\"; null: no custom host names (origins are the default ones only)."
}

variable "apex_environment" {
  type        = string
  default     = "prod"
  description = "Environment whose host names carry no environment suffix, e.g. \"prod\" (pro.orthense.example) while nightly gets pro-nightly.orthense.example."
  nullable    = false
}
