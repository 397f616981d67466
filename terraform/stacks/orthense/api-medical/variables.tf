variable "resource_group_name" {
  type        = string
  description = "Resource group of the environment ($${foundation.resource_group_name}), e.g. \"rg-orthense-nightly\"."
  nullable    = false
}

variable "location" {
  type        = string
  description = "Region of the environment ($${foundation.location}), e.g. \"francecentral\"."
  nullable    = false
}

variable "app_service_plan_id" {
  type        = string
  description = "App Service plan the API runs on ($${foundation.app_service_plan_id})."
  nullable    = false
}

variable "key_vault_id" {
  type        = string
  description = "Resource id of the environment's Key Vault ($${foundation.key_vault_id})."
  nullable    = false
}

variable "app_insights_connection_string_secret_uri" {
  type        = string
  description = "Versionless URI of the Application Insights connection string secret ($${foundation.app_insights_connection_string_secret_uri})."
  nullable    = false
}

variable "sendgrid_api_key_secret_uri" {
  type        = string
  description = "Versionless URI of the SendGrid API key secret ($${foundation.sendgrid_api_key_secret_uri})."
  nullable    = false
}

variable "mongo_connection_string_secret_uri" {
  type        = string
  description = "Versionless URI of the MongoDB connection string secret ($${data-mongo.mongo_connection_string_secret_uri})."
  nullable    = false
}

variable "mongo_database_name" {
  type        = string
  description = "Name of the medical database ($${data-mongo.mongo_database_name}), e.g. \"medical\"."
  nullable    = false
}

variable "accounts_api_url" {
  type        = string
  description = "Issuer of the JWTs the API accepts: the accounts API's URL ($${api-accounts.api_url})."
  nullable    = false

  validation {
    condition     = startswith(var.accounts_api_url, "https://")
    error_message = "The issuer must be an https URL, e.g. \"https://app-orthense-nightly-acc-1a2b3c.azurewebsites.net\"."
  }
}

variable "spa_origins" {
  type        = list(string)
  default     = []
  description = "Origins of the SPAs allowed by CORS ($${spas.spa_origins}, a JSON list), e.g. [\"https://pro-nightly.orthense.example\"]."
  nullable    = false
}

variable "dotnet_version" {
  type        = string
  default     = "8.0"
  description = "The .NET runtime of the API, e.g. \"8.0\"."
  nullable    = false
}
