# ---- simulation -----------------------------------------------------------------------------------------------

variable "simulated_seconds" {
  type        = number
  default     = 4
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating a Cosmos DB for MongoDB account (about 8 min in Azure) (1 real minute ~ 0.5 s). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 4."
  }
}

variable "database_name" {
  type        = string
  default     = "orthense-medical"
  nullable    = false
  description = "Name of the MongoDB database of the medical-data API, e.g. \"orthense-medical\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,62}$", var.database_name))
    error_message = "database_name must be lowercase letters, digits and '-', e.g. \"orthense-medical\"."
  }
}
