# ---- passed by nightshift to every Terraform step (docs/catalog.md) ----------------------------------------------

variable "nightshift_tags" {
  type        = map(string)
  nullable    = false
  description = "Tags every resource group carries (tags.json), e.g. { nightshift-product = \"orthense-demo\", nightshift-environment = \"nightly\", ... }."

  validation {
    condition = alltrue([
      for k in ["nightshift-managed-by", "nightshift-product", "nightshift-environment", "nightshift-run", "nightshift-kind"] :
      contains(keys(var.nightshift_tags), k)
    ])
    error_message = "nightshift_tags must carry nightshift-managed-by, -product, -environment, -run and -kind (nightshift sets them)."
  }
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

# ---- simulation -----------------------------------------------------------------------------------------------

variable "simulated_seconds" {
  type        = number
  default     = 0.3
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating the Key Vault and Application Insights (about 35 s each in Azure) (1 real minute ~ 0.5 s). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 0.3."
  }
}

variable "key_vault_secret_names" {
  type        = set(string)
  default     = ["sendgrid-api-key", "cloudflare-api-token"]
  nullable    = false
  description = "Secrets the local Key Vault holds placeholders for (files under its secrets/ directory), e.g. [\"sendgrid-api-key\"]."
}
