# ---- simulation -----------------------------------------------------------------------------------------------

variable "simulated_seconds" {
  type        = number
  default     = 0.5
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating a Static Web App (about 1 min in Azure) (1 real minute ~ 0.5 s). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 0.5."
  }
}

variable "spas" {
  type = map(object({
    host_label  = string
    audience    = string
    description = optional(string, "")
  }))
  default = {
    pro        = { host_label = "pro", audience = "practitioners", description = "Site PRO" }
    patient    = { host_label = "patient", audience = "patients", description = "Site PATIENT" }
    backoffice = { host_label = "backoffice", audience = "backoffice", description = "Site Backoffice" }
  }
  nullable    = false
  description = "The single-page apps, by key, e.g. { pro = { host_label = \"pro\", audience = \"practitioners\" } }. Host: <host_label>.<environment>.<dns_suffix>."

  validation {
    condition     = alltrue([for k, v in var.spas : can(regex("^[a-z][a-z0-9-]{0,30}$", k)) && can(regex("^[a-z][a-z0-9-]{0,30}$", v.host_label))])
    error_message = "spas keys and host_label values must be lowercase letters, digits and '-', e.g. \"pro\"."
  }
}

# ---- from upstream steps (optional: the SPAs' runtime configuration) ---------------------------------------------

variable "api_medical_url" {
  type        = string
  default     = ""
  nullable    = false
  description = "The api-medical step's url, e.g. \"https://api-medical.nightly.orthense.local\"."
}

variable "api_accounts_url" {
  type        = string
  default     = ""
  nullable    = false
  description = "The api-accounts step's url (the OpenID Connect authority), e.g. \"https://api-accounts.nightly.orthense.local\"."
}

variable "dns_suffix" {
  type        = string
  default     = "orthense.local"
  nullable    = false
  description = "Suffix of the public host names: <site>.<environment>.<dns_suffix>, e.g. \"orthense.local\"."
}
