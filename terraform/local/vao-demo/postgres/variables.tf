variable "database_name" {
  type        = string
  default     = "vao"
  nullable    = false
  description = "The backend's database, e.g. \"vao\"."
}

variable "postgresql_version" {
  type        = string
  default     = "16"
  nullable    = false
  description = "PostgreSQL major version of the server, e.g. \"16\"."

  validation {
    condition     = contains(["14", "15", "16", "17"], var.postgresql_version)
    error_message = "postgresql_version must be one of 14, 15, 16, 17 (the versions Azure's flexible server offers)."
  }
}

variable "simulated_seconds" {
  type        = number
  default     = 1
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating a PostgreSQL flexible server (several minutes in Azure). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 1."
  }
}
