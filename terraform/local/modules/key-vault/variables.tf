variable "name" {
  type        = string
  description = "Vault name: 3..24 characters as in Azure, e.g. \"kv-vao-demo-1a2b3c4d\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.name))
    error_message = "name must be 3..24 lowercase letters, digits and '-', starting with a letter (Azure's rule)."
  }
}

variable "resource_group_path" {
  type        = string
  description = "Absolute path of the resource group directory the vault lives in, e.g. \"/var/lib/nightshift/cloud/resource-groups/rg-vao-demo-pr-7\"."

  validation {
    condition     = can(regex("^/.+/resource-groups/rg-[a-z0-9-]+$", var.resource_group_path))
    error_message = "resource_group_path must be an absolute <local_cloud_dir>/resource-groups/rg-... path."
  }
}

variable "secret_names" {
  type        = set(string)
  default     = []
  nullable    = false
  description = "Secrets the vault holds placeholders for (files under its secrets/ directory), e.g. [\"smtp-password\"]. Values are set out of band, never by Terraform."
}

variable "simulated_seconds" {
  type        = number
  default     = 0.3
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating a Key Vault (about 35 s in Azure). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 0.3."
  }
}
