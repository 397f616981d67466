# The input every local layer after foundation takes from it: linked into those roots.

variable "resource_group_name" {
  type        = string
  description = "Resource group to create into: the foundation step's resource_group_name, e.g. \"rg-orthense-demo-nightly\"."

  validation {
    condition     = can(regex("^rg-[a-z0-9-]+$", var.resource_group_name))
    error_message = "resource_group_name must look like \"rg-<product>-<environment>\": pass $${foundation.resource_group_name}."
  }
}
