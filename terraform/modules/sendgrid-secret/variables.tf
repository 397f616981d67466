variable "key_vault_id" {
  type        = string
  description = "Resource id of the vault that holds the secret (the caller's, e.g. the foundation layer's key vault)."
  nullable    = false

  validation {
    condition     = can(regex("(?i)/providers/Microsoft.KeyVault/vaults/[^/]+$", var.key_vault_id))
    error_message = "Pass a Key Vault resource id, e.g. \"/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.KeyVault/vaults/kv-orthensenightly-1a2b3c\"."
  }
}

variable "name" {
  type        = string
  default     = "sendgrid-api-key"
  description = "Name of the secret, e.g. \"sendgrid-api-key\"."
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9-]{1,127}$", var.name))
    error_message = "Key Vault secret names are 1 to 127 letters, digits and hyphens, e.g. \"sendgrid-api-key\"."
  }
}

variable "value" {
  type        = string
  default     = null
  sensitive   = true
  description = <<-EOT
    The API key, given only at apply time (TF_VAR_value, or the stack's TF_VAR_sendgrid_api_key), e.g. "SG.xxxx...".
    null: the secret must already be in the vault and is only read. Never write it in a file.
  EOT

  validation {
    condition     = var.value == null || can(regex("^SG\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$", var.value))
    error_message = "This does not look like a SendGrid API key (\"SG.<id>.<secret>\"); check the secret nightshift injects, or pass null to use the one already in the vault."
  }
}

variable "expiration_date" {
  type        = string
  default     = null
  description = "Expiry of the secret in RFC 3339 UTC, e.g. \"2027-01-31T00:00:00Z\" (a reminder to rotate the key); null for none."

  validation {
    condition     = var.expiration_date == null || can(formatdate("YYYY", var.expiration_date))
    error_message = "Use an RFC 3339 timestamp, e.g. \"2027-01-31T00:00:00Z\"."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags of the secret, e.g. { \"nightshift-product\" = \"orthense\" }."
  nullable    = false
}
