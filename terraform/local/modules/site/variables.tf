variable "resource_group_path" {
  type        = string
  description = "Absolute path of the resource group directory the site is created in, e.g. \"/var/lib/nightshift/cloud/resource-groups/rg-orthense-demo-nightly\"."

  validation {
    condition     = can(regex("^/.+/resource-groups/rg-[a-z0-9-]+$", var.resource_group_path))
    error_message = "resource_group_path must be an absolute <local_cloud_dir>/resource-groups/rg-... path."
  }
}

variable "name" {
  type        = string
  description = "Resource name, e.g. \"app-orthense-demo-nightly-medical\" or \"stapp-orthense-demo-nightly-pro\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,59}$", var.name))
    error_message = "name must be 2..60 lowercase letters, digits and '-', starting with a letter."
  }
}

variable "kind" {
  type        = string
  description = "\"app-service\" (an API) or \"static-web-app\" (a SPA)."

  validation {
    condition     = contains(["app-service", "static-web-app"], var.kind)
    error_message = "kind must be \"app-service\" or \"static-web-app\"."
  }
}

variable "hostname" {
  type        = string
  description = "Public host name the site answers on, e.g. \"api-medical.nightly.orthense.local\"."
}

variable "runtime" {
  type        = string
  default     = ""
  nullable    = false
  description = "Runtime stack of an app-service, as App Service names it, e.g. \"NODE|20-lts\" or \"DOTNETCORE|8.0\"; empty for static web apps."

  validation {
    condition     = var.runtime == "" || can(regex("^[A-Z]+\\|[0-9][0-9a-z.-]*$", var.runtime))
    error_message = "runtime must look like \"NODE|20-lts\" (STACK|version), or be empty."
  }
}

variable "settings" {
  type        = map(string)
  default     = {}
  nullable    = false
  description = "App settings (environment of the app), e.g. { MONGO_DATABASE = \"/.../medical.sqlite\" }. Secrets as Key Vault references only."
}

variable "simulated_seconds" {
  type        = number
  default     = 0.5
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic the creation time."
}

variable "product" {
  type        = string
  description = "Product the resource group must be tagged for (nightshift-product), e.g. \"orthense-demo\"."
}

variable "environment" {
  type        = string
  description = "Environment the resource group must be tagged for (nightshift-environment), e.g. \"nightly\"."
}
