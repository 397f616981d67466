variable "location" {
  type        = string
  description = "Azure region of the resource group, e.g. \"francecentral\"."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "Use the short lowercase region name without spaces, e.g. \"francecentral\" (see `az account list-locations -o table`)."
  }
}

variable "name" {
  type        = string
  description = "Name of the resource group, e.g. \"rg-orthense-pr-123\". Derive it from product and environment so environments never collide."
  nullable    = false

  validation {
    condition     = can(regex("^[-\\w\\._\\(\\)]{1,90}$", var.name)) && !endswith(var.name, ".")
    error_message = "Use 1 to 90 letters, digits, '-', '_', '.', '(' or ')', not ending with '.', e.g. \"rg-orthense-nightly\"."
  }
}

variable "tags" {
  type        = map(string)
  description = <<-EOT
    Tags of the resource group: nightshift's tags (the sweep relies on them) merged with any others, e.g.
    { "nightshift-managed-by" = "nightshift", "nightshift-product" = "orthense", "nightshift-environment" = "pr-123",
      "nightshift-run" = "01JD...", "nightshift-kind" = "pull-request", "nightshift-expires-at" = "2026-11-22T22:00:00Z" }.
  EOT
  nullable    = false

  validation {
    condition = alltrue([
      for k in ["nightshift-managed-by", "nightshift-product", "nightshift-environment", "nightshift-run", "nightshift-kind"] :
      contains(keys(var.tags), k)
    ])
    error_message = "Pass nightshift's tags (var.nightshift_tags of the stack) merged into var.tags: nightshift-managed-by, nightshift-product, nightshift-environment, nightshift-run and nightshift-kind are required."
  }

  validation {
    condition     = contains(["nightly", "pull-request", "persistent"], lookup(var.tags, "nightshift-kind", ""))
    error_message = "Tag nightshift-kind must be \"nightly\", \"pull-request\" or \"persistent\"; pass the value nightshift gives in var.nightshift_tags."
  }

  validation {
    condition = lookup(var.tags, "nightshift-kind", "") == "persistent" || can(regex(
      "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", lookup(var.tags, "nightshift-expires-at", "")
    ))
    error_message = "An ephemeral environment (nightly, pull-request) needs tag nightshift-expires-at in RFC 3339 UTC, e.g. \"2026-11-22T22:00:00Z\"; without it the sweep would never delete the group."
  }
}

variable "lock_enabled" {
  type        = bool
  default     = false
  description = "Put a CanNotDelete lock on the group, e.g. true for \"prod\". Never on ephemeral environments: the sweep could not delete them."
  nullable    = false

  validation {
    condition     = !var.lock_enabled || lookup(var.tags, "nightshift-kind", "") == "persistent"
    error_message = "Only persistent environments may be locked; set lock_enabled = false for nightly and pull-request environments."
  }
}
