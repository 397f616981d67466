variable "instance" {
  type        = string
  description = "nightshift instance that builds the environment (the nightshift-managed-by tag), e.g. \"nightshift\"."
  nullable    = false

  validation {
    # The orchestrator's instance_name rule (terraform/orchestrator/variables.tf).
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}[a-z0-9]$", var.instance))
    error_message = "Use 4 to 22 lowercase letters, digits and hyphens, starting with a letter, e.g. \"nightshift\"."
  }
}

variable "product" {
  type        = string
  description = "Product name from the catalog, e.g. \"orthense\"."
  nullable    = false

  validation {
    # ProductName in crates/core/src/names.rs: 2 to 24 characters.
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.product))
    error_message = "Use 2 to 24 lowercase letters, digits and hyphens, starting with a letter, e.g. \"orthense\"."
  }
}

variable "environment" {
  type        = string
  description = "Concrete environment name, e.g. \"pr-123\"."
  nullable    = false

  validation {
    # EnvironmentName in crates/core/src/names.rs: 2 to 32 characters.
    condition     = can(regex("^[a-z][a-z0-9-]{1,31}$", var.environment)) && !endswith(var.environment, "-")
    error_message = "Use 2 to 32 lowercase letters, digits and hyphens, starting with a letter, e.g. \"pr-123\"."
  }
}

variable "static_web_apps" {
  type        = set(string)
  default     = []
  description = "Keys of the Static Web Apps of the layer, e.g. [\"pro\", \"patient\", \"backoffice\"] (at most 10 characters each)."
  nullable    = false

  validation {
    condition     = alltrue([for k in var.static_web_apps : can(regex("^[a-z][a-z0-9]{0,9}$", k))])
    error_message = "Static Web App keys are 1 to 10 lowercase letters and digits, starting with a letter, e.g. \"backoffice\" (the name is at most 40 characters)."
  }
}
