# The inputs nightshift passes to every Terraform step (docs/catalog.md): linked into each root of this product,
# because Terraform reads a root's own files only.

# Standard inputs: nightshift sets them for every Terraform step (TF_VAR_nightshift_tags, TF_VAR_environment,
# TF_VAR_product); the catalog does not pass them.

variable "nightshift_tags" {
  type        = map(string)
  description = <<-EOT
    Tags every resource group of the environment must carry, given by nightshift, e.g.
    { "nightshift-managed-by" = "nightshift", "nightshift-product" = "orthense", "nightshift-environment" = "pr-123",
      "nightshift-run" = "01JDQ4...", "nightshift-kind" = "pull-request", "nightshift-expires-at" = "2026-11-22T22:00:00Z" }.
  EOT
  nullable    = false

  validation {
    condition     = contains(["nightly", "pull-request", "persistent"], lookup(var.nightshift_tags, "nightshift-kind", ""))
    error_message = "nightshift_tags must hold nightshift-kind (nightly, pull-request or persistent); run the stack through nightshift or pass the tags it would pass."
  }

  validation {
    # The instance goes into the hash of every globally unique name (terraform/modules/naming).
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}[a-z0-9]$", lookup(var.nightshift_tags, "nightshift-managed-by", "")))
    error_message = "nightshift_tags must hold nightshift-managed-by, the nightshift instance (4 to 22 lowercase letters, digits, hyphens); run the stack through nightshift or pass the tags it would pass."
  }
}

variable "environment" {
  type        = string
  description = "Concrete environment name, e.g. \"nightly\", \"pr-123\", \"main\", \"prod\"."
  nullable    = false

  validation {
    # EnvironmentName in crates/core/src/names.rs: 2 to 32 characters (the naming module is tested for 32).
    condition     = can(regex("^[a-z][a-z0-9-]{1,31}$", var.environment)) && !endswith(var.environment, "-")
    error_message = "Use 2 to 32 lowercase letters, digits and hyphens, starting with a letter, e.g. \"pr-123\"."
  }
}

variable "product" {
  type        = string
  description = "Product name from the catalog, e.g. \"orthense\"."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,23}$", var.product))
    error_message = "Use 2 to 24 lowercase letters, digits and hyphens, starting with a letter, e.g. \"orthense\"."
  }
}
