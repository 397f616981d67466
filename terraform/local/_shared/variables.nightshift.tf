# The inputs nightshift passes to every local Terraform step (docs/catalog.md, "What every step receives"): linked
# into each root of terraform/local/<product>/ (Terraform reads a root's own files only).

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
