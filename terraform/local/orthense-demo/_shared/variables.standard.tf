# The inputs every local layer after foundation declares: linked into each root (Terraform reads a root's own
# files only). Foundation declares its own: it also validates the tags it writes.

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
