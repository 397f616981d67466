variable "name" {
  type        = string
  description = "Resource group name, e.g. \"rg-orthense-demo-nightly\"."

  validation {
    condition     = can(regex("^rg-[a-z0-9-]{1,86}$", var.name))
    error_message = "name must start with \"rg-\" and use lowercase letters, digits and '-', e.g. \"rg-vao-demo-pr-7\"."
  }
}

variable "local_cloud_dir" {
  type        = string
  description = "Root of nightshift's local cloud, e.g. \"/var/lib/nightshift/cloud\"; groups live in <dir>/resource-groups/."

  validation {
    condition     = length(trimspace(var.local_cloud_dir)) > 0
    error_message = "local_cloud_dir must be set (nightshift sets it in local mode)."
  }
}

variable "product" {
  type        = string
  description = "The product the group belongs to, e.g. \"orthense-demo\": the tags must name it."
}

variable "environment" {
  type        = string
  description = "The environment the group belongs to, e.g. \"pr-7\": the tags must name it."
}

variable "tags" {
  type        = map(string)
  nullable    = false
  description = "The tags nightshift gives every resource group (written to tags.json), e.g. { nightshift-product = \"vao-demo\", ... }."
}
