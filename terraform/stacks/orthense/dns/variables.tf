variable "resource_group_name" {
  type        = string
  description = "Resource group of the environment ($${foundation.resource_group_name}), e.g. \"rg-orthense-nightly\"."
  nullable    = false
}

variable "cloudflare_zone_id" {
  type        = string
  description = "Id of the Cloudflare zone, from the environment's vars ($${env.vars.cloudflare_zone_id}), e.g. \"023e105f4ecef8ad9ca31a8372d0c353\"."
  nullable    = false
}

variable "dns_zone_name" {
  type        = string
  description = "Domain of the Cloudflare zone ($${env.vars.dns_zone}), e.g. \"orthense.example\"."
  nullable    = false
}

variable "apex_environment" {
  type        = string
  default     = "prod"
  description = "Environment whose host names carry no environment suffix, e.g. \"prod\"; must match the spas layer."
  nullable    = false
}

variable "spa_ids" {
  type        = map(string)
  description = "Static Web App ids by SPA key ($${spas.spa_ids}, JSON), e.g. { pro = \"/subscriptions/.../staticSites/stapp-pro-orthense-nightly\" }."
  nullable    = false
}

variable "spa_default_hostnames" {
  type        = map(string)
  description = "Default host names by SPA key ($${spas.spa_default_hostnames}, JSON), e.g. { pro = \"nice-sea-0a1b2c3d4.5.azurestaticapps.net\" }."
  nullable    = false
}

variable "spa_record_names" {
  type = map(string)
  default = {
    pro        = "pro"
    patient    = "patient"
    backoffice = "backoffice"
  }
  description = "DNS label of each SPA, by key, e.g. { pro = \"pro\" }; must match the spas layer's record_name."
  nullable    = false

  validation {
    condition     = alltrue([for v in values(var.spa_record_names) : can(regex("^[a-z][a-z0-9-]{0,30}$", v))])
    error_message = "Use lowercase DNS labels, e.g. \"pro\"."
  }
}

variable "api_medical_app_name" {
  type        = string
  description = "App Service name of the medical API ($${api-medical.app_name})."
  nullable    = false
}

variable "api_medical_default_hostname" {
  type        = string
  description = "Default host name of the medical API ($${api-medical.default_hostname})."
  nullable    = false
}

variable "api_medical_verification_id" {
  type        = string
  description = "Custom domain verification id of the medical API ($${api-medical.custom_domain_verification_id}), for its asuid TXT record."
  nullable    = false
}

variable "api_accounts_app_name" {
  type        = string
  description = "App Service name of the accounts API ($${api-accounts.app_name})."
  nullable    = false
}

variable "api_accounts_default_hostname" {
  type        = string
  description = "Default host name of the accounts API ($${api-accounts.default_hostname})."
  nullable    = false
}

variable "api_accounts_verification_id" {
  type        = string
  description = "Custom domain verification id of the accounts API ($${api-accounts.custom_domain_verification_id}), for its asuid TXT record."
  nullable    = false
}
