# ---- simulation -----------------------------------------------------------------------------------------------

variable "simulated_seconds" {
  type        = number
  default     = 0.1
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating DNS records (seconds in Azure/Cloudflare) (1 real minute ~ 0.5 s). 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 0.1."
  }
}

# ---- from upstream steps: the public URLs to publish -------------------------------------------------------------

variable "api_medical_url" {
  type        = string
  default     = ""
  nullable    = false
  description = "The api-medical step's url, e.g. \"https://api-medical.nightly.orthense.local\"."
}

variable "api_accounts_url" {
  type        = string
  default     = ""
  nullable    = false
  description = "The api-accounts step's url, e.g. \"https://api-accounts.nightly.orthense.local\"."
}

variable "spa_urls" {
  type        = map(string)
  default     = {}
  nullable    = false
  description = "The spas step's urls, e.g. { pro = \"https://pro.nightly.orthense.local\" }."
}

variable "dns_suffix" {
  type        = string
  default     = "orthense.local"
  nullable    = false
  description = "Parent zone: the environment's zone is <environment>.<dns_suffix>, e.g. \"orthense.local\"."
}

variable "edge_hostname" {
  type        = string
  default     = "edge.local-cloud.internal"
  nullable    = false
  description = "CNAME target of every record: the local stand-in for the Cloudflare-proxied edge, e.g. \"edge.local-cloud.internal\"."
}
