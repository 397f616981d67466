# The foundation's own inputs; the ones nightshift passes to every step are in variables.nightshift.tf (linked).

# ---- simulation -----------------------------------------------------------------------------------------------

variable "simulated_seconds" {
  type        = number
  default     = 0.3
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating the Key Vault and Application Insights (about 35 s each in Azure) (1 real minute ~ 0.5 s). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 0.3."
  }
}

variable "key_vault_secret_names" {
  type        = set(string)
  default     = ["sendgrid-api-key", "cloudflare-api-token"]
  nullable    = false
  description = "Secrets the local Key Vault holds placeholders for (files under its secrets/ directory), e.g. [\"sendgrid-api-key\"]."
}
