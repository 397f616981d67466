variable "location" {
  type        = string
  default     = "francecentral"
  description = "Azure region of the environment, e.g. \"francecentral\" (health data stays in France)."
  nullable    = false
}

variable "sendgrid_api_key" {
  type        = string
  default     = null
  sensitive   = true
  description = <<-EOT
    SendGrid API key, given at apply time only: nightshift reads secret "sendgrid-api-key" from its own vault and sets
    TF_VAR_sendgrid_api_key for the job (the step's `secrets:` in the catalog). null: the secret must already be in
    this environment's vault (persistent environments, set by an operator). Never put it in a file.
  EOT
}

variable "app_service_sku" {
  type        = string
  default     = "B1"
  description = "SKU of the App Service plan shared by the two APIs, e.g. \"B1\" for nightly and pull-request environments, \"P1v3\" for prod."
  nullable    = false

  validation {
    condition     = can(regex("^(B[1-3]|S[1-3]|P[0-3]v[23]|P[1-5]mv3)$", var.app_service_sku))
    error_message = "Use a Linux App Service SKU that supports always-on, e.g. \"B1\", \"S1\" or \"P1v3\" (not \"F1\")."
  }
}

variable "app_service_worker_count" {
  type        = number
  default     = 2
  description = "Instances of the App Service plan in persistent environments, e.g. 2 (ephemeral ones always get 1)."
  nullable    = false

  validation {
    condition     = var.app_service_worker_count >= 1 && var.app_service_worker_count <= 30
    error_message = "Use 1 to 30 instances, e.g. 2."
  }
}

variable "key_vault_default_action" {
  type        = string
  default     = "Allow"
  description = "Default network action of the vault, e.g. \"Allow\" (the APIs have no virtual network) or \"Deny\" once they do."
  nullable    = false

  validation {
    condition     = contains(["Allow", "Deny"], var.key_vault_default_action)
    error_message = "Use \"Allow\" or \"Deny\"."
  }
}

variable "deployer_principal_type" {
  type        = string
  default     = "ServicePrincipal"
  description = "Kind of the identity that runs Terraform, e.g. \"ServicePrincipal\" for nightshift's managed identity, \"User\" on a workstation."
  nullable    = false

  validation {
    condition     = contains(["User", "ServicePrincipal"], var.deployer_principal_type)
    error_message = "Use \"ServicePrincipal\" (managed identity) or \"User\"."
  }
}

variable "lock_resource_group" {
  type        = bool
  default     = false
  description = "Put a CanNotDelete lock on the resource group, e.g. true for prod; refused for ephemeral environments."
  nullable    = false
}

variable "extra_tags" {
  type        = map(string)
  default     = {}
  description = "More tags for the resource group, e.g. { \"cost-center\" = \"orthense-qa\" }; nightshift's tags win on conflict."
  nullable    = false
}
