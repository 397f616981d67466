# ---- simulation -----------------------------------------------------------------------------------------------

variable "simulated_seconds" {
  type        = number
  default     = 0.5
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating an App Service web app (about 1 min in Azure) (1 real minute ~ 0.5 s). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 0.5."
  }
}

# ---- from upstream steps -----------------------------------------------------------------------------------------

variable "database_path" {
  type        = string
  description = "Absolute path of the API's store: the mongo step's database_path output."

  validation {
    condition     = startswith(var.database_path, "/")
    error_message = "database_path must be absolute: pass $${mongo.database_path}."
  }
}

variable "database_name" {
  type        = string
  default     = "orthense-medical"
  nullable    = false
  description = "Database name the API uses, e.g. \"orthense-medical\"."
}

variable "accounts_url" {
  type        = string
  default     = ""
  nullable    = false
  description = "URL of the accounts API (JWT issuer), e.g. \"https://api-accounts.nightly.orthense.local\" (optional)."
}

variable "key_vault_name" {
  type        = string
  default     = ""
  nullable    = false
  description = "The foundation's key_vault_name; when set, secrets (SendGrid key) are wired as Key Vault references. e.g. \"kv-orthense-dem-084e1a37\"."
}

variable "app_insights_connection_string" {
  type        = string
  default     = ""
  nullable    = false
  description = "The foundation's app_insights_connection_string (optional)."
}

variable "dns_suffix" {
  type        = string
  default     = "orthense.local"
  nullable    = false
  description = "Suffix of the public host names: <site>.<environment>.<dns_suffix>, e.g. \"orthense.local\"."
}
