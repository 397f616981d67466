variable "zone_id" {
  type        = string
  description = "Id of the Cloudflare zone (32 hex characters, shown on the zone's overview page), e.g. \"023e105f4ecef8ad9ca31a8372d0c353\"."
  nullable    = false

  validation {
    condition     = can(regex("^[0-9a-f]{32}$", var.zone_id))
    error_message = "Pass the zone id (32 lowercase hex characters), not the zone name, e.g. \"023e105f4ecef8ad9ca31a8372d0c353\"."
  }
}

variable "zone_name" {
  type        = string
  description = "Domain name of the zone, e.g. \"orthense.example\"; record names are relative to it."
  nullable    = false

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.zone_name))
    error_message = "Use a lowercase domain name without trailing dot, e.g. \"orthense.example\"."
  }
}

variable "records" {
  type = map(object({
    name    = string
    type    = string
    content = string
    ttl     = optional(number, 300)
    proxied = optional(bool, false)
    comment = optional(string, null)
    tags    = optional(set(string), [])
  }))
  description = <<-EOT
    Records by a stable key, names relative to the zone ("@" for the apex), e.g.
    { pro = { name = "pro-nightly", type = "CNAME", content = "nice-sea-0a1b2c3d4.5.azurestaticapps.net" },
      asuid_api = { name = "asuid.api-nightly", type = "TXT", content = "\"<verification id>\"" } }.
  EOT
  nullable    = false

  validation {
    condition     = alltrue([for r in values(var.records) : contains(["A", "AAAA", "CNAME", "TXT", "MX", "CAA"], r.type)])
    error_message = "Record type must be one of A, AAAA, CNAME, TXT, MX or CAA."
  }

  validation {
    condition     = alltrue([for r in values(var.records) : r.ttl == 1 || (r.ttl >= 60 && r.ttl <= 86400)])
    error_message = "ttl is 1 (automatic) or 60 to 86400 seconds, e.g. 300."
  }

  validation {
    condition     = alltrue([for r in values(var.records) : !r.proxied || contains(["A", "AAAA", "CNAME"], r.type)])
    error_message = "Only A, AAAA and CNAME records can be proxied; set proxied = false for the others."
  }

  validation {
    condition     = alltrue([for r in values(var.records) : r.name == "@" || can(regex("^[a-z0-9_*]([a-z0-9_.-]*[a-z0-9])?$", r.name))])
    error_message = "Record names are relative to the zone, lowercase, e.g. \"pro-nightly\" or \"asuid.api-nightly\" (\"@\" for the apex)."
  }
}

variable "comment_suffix" {
  type        = string
  default     = "nightshift"
  description = "Added to the default comment of every record so a person can tell whose it is, e.g. \"orthense/pr-123\"."
  nullable    = false
}
