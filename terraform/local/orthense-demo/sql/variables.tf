# ---- simulation -----------------------------------------------------------------------------------------------

variable "simulated_seconds" {
  type        = number
  default     = 2
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating an Azure SQL server and database (about 4 min in Azure) (1 real minute ~ 0.5 s). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 2."
  }
}

variable "database_name" {
  type        = string
  default     = "orthense-accounts"
  nullable    = false
  description = "Name of the SQL database of the accounts API, e.g. \"orthense-accounts\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,62}$", var.database_name))
    error_message = "database_name must be lowercase letters, digits and '-', e.g. \"orthense-accounts\"."
  }
}
