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

variable "sql_server_fqdn" {
  type        = string
  description = "FQDN of the SQL server ($${data-sql.sql_server_fqdn}), e.g. \"sql-orthense-nightly-1a2b3c.database.windows.net\"."
  nullable    = false
}

variable "sql_database_name" {
  type        = string
  description = "Name of the accounts database ($${data-sql.sql_database_name}), e.g. \"accounts\"."
  nullable    = false
}

variable "spa_origins" {
  type        = list(string)
  default     = []
  description = "Origins of the SPAs, allowed by CORS and as OAuth redirect hosts ($${spas.spa_origins}, a JSON list), e.g. [\"https://pro-nightly.orthense.example\"]."
  nullable    = false
}

variable "dotnet_version" {
  type        = string
  default     = "8.0"
  description = "The .NET runtime of the API, e.g. \"8.0\"."
  nullable    = false
}
