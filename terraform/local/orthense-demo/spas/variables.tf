# ---- passed by nightshift to every Terraform step (docs/catalog.md) ----------------------------------------------

variable "nightshift_tags" {
  type        = map(string)
  nullable    = false
  description = "Tags every resource group carries, e.g. { nightshift-product = \"orthense-demo\", ... }."
}

variable "environment" {
  type        = string
  description = "Concrete environment name, e.g. \"nightly\", \"pr-123\" or \"main\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}$", var.environment))
    error_message = "environment must be lowercase letters, digits and '-', starting with a letter, e.g. \"pr-123\"."
  }
}

variable "product" {
  type        = string
  description = "Product name from the catalog, e.g. \"orthense-demo\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.product))
    error_message = "product must be 2..24 lowercase letters, digits and '-', starting with a letter."
  }
}

variable "local_cloud_dir" {
  type        = string
  description = "Root of nightshift's local cloud, e.g. \"/var/lib/nightshift/cloud\"; resource groups live in <dir>/resource-groups/."

  validation {
    condition     = length(trimspace(var.local_cloud_dir)) > 0
    error_message = "local_cloud_dir must be set (nightshift sets it in local mode)."
  }
}

# ---- from the foundation step ---------------------------------------------------------------------------------

variable "resource_group_name" {
  type        = string
  description = "Resource group to create into: the foundation step's resource_group_name, e.g. \"rg-orthense-demo-nightly\"."

  validation {
    condition     = can(regex("^rg-[a-z0-9-]+$", var.resource_group_name))
    error_message = "resource_group_name must look like \"rg-<product>-<environment>\": pass $${foundation.resource_group_name}."
  }
}

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
