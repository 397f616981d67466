# ---- from upstream steps -----------------------------------------------------------------------------------------

variable "database_path" {
  type        = string
  description = "Absolute path of the backend's store: the postgres step's database_path output."

  validation {
    condition     = startswith(var.database_path, "/")
    error_message = "database_path must be absolute: pass $${postgres.database_path}."
  }
}

variable "database_name" {
  type        = string
  description = "The database the backend uses: the postgres step's database_name output, e.g. \"vao\"."
}

variable "database_host" {
  type        = string
  description = "Host name of the PostgreSQL server: the postgres step's server_fqdn output."
}

variable "key_vault_name" {
  type        = string
  description = "The foundation's key_vault_name: secrets are wired as Key Vault references, e.g. \"kv-vao-demo-1a2b3c4d\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", var.key_vault_name))
    error_message = "key_vault_name must be a vault name: pass $${foundation.key_vault_name}."
  }
}

# ---- the product's own settings ------------------------------------------------------------------------------

variable "runtime" {
  type        = string
  default     = "NODE|20-lts"
  nullable    = false
  description = "App Service runtime stack of the backend, e.g. \"NODE|20-lts\"."
}

variable "frontend_origins" {
  type        = list(string)
  default     = []
  nullable    = false
  description = "Origins of the frontends allowed to call the backend, e.g. [\"https://usagers.pr-7.vao.local\"]."
}

variable "smtp_host" {
  type        = string
  default     = "smtp.vao.local"
  nullable    = false
  description = "The SMTP relay the backend sends mail through (outside the environment), e.g. \"smtp.example.org\"."
}

variable "smtp_port" {
  type        = number
  default     = 587
  nullable    = false
  description = "The SMTP relay's submission port (STARTTLS), e.g. 587."
}

variable "api_entreprise_url" {
  type        = string
  default     = "https://entreprise.api.gouv.fr"
  nullable    = false
  description = "Base URL of API Entreprise (company data of the organisations)."
}

variable "api_insee_url" {
  type        = string
  default     = "https://api.insee.fr"
  nullable    = false
  description = "Base URL of the INSEE API (SIRENE register)."
}

variable "api_adresse_url" {
  type        = string
  default     = "https://api-adresse.data.gouv.fr"
  nullable    = false
  description = "Base URL of the Base Adresse Nationale API (address search)."
}

variable "dns_suffix" {
  type        = string
  default     = "vao.local"
  nullable    = false
  description = "Suffix of the public host names: <site>.<environment>.<dns_suffix>, e.g. \"vao.local\"."
}

variable "simulated_seconds" {
  type        = number
  default     = 0.5
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating an App Service web app (about 1 min in Azure). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 0.5."
  }
}
