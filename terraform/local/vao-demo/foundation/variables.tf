# The foundation's own inputs; the ones nightshift passes to every step are in variables.nightshift.tf (linked).

variable "simulated_seconds" {
  type        = number
  default     = 0.3
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating the Key Vault (about 35 s in Azure). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 0.3."
  }
}

variable "key_vault_secret_names" {
  type        = set(string)
  default     = ["smtp-password", "api-entreprise-token", "api-insee-token"]
  nullable    = false
  description = "Secrets the environment's Key Vault holds placeholders for, e.g. [\"smtp-password\"]. Values are set out of band."
}
