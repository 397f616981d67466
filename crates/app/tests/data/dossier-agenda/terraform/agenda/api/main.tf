variable "nightshift_tags" {
  type = map(string)
}

variable "environment" {
  type = string
}

variable "product" {
  type = string
}

variable "resource_group_name" {
  type = string
}

variable "location" {
  type = string
}

variable "service_plan_id" {
  type = string
}

variable "database_url_secret_uri" {
  type = string
}

variable "node_version" {
  type    = string
  default = "20-lts"
}

resource "azurerm_linux_web_app" "this" {
  name                = "app-${var.product}-${var.environment}"
  location            = var.location
  resource_group_name = var.resource_group_name
  service_plan_id     = var.service_plan_id
  https_only          = true

  app_settings = {
    NODE_ENV     = "production"
    DATABASE_URL = "@Microsoft.KeyVault(SecretUri=${var.database_url_secret_uri})"
  }

  identity {
    type = "SystemAssigned"
  }

  site_config {
    minimum_tls_version = "1.2"
    ftps_state          = "Disabled"

    application_stack {
      node_version = var.node_version
    }
  }
}

output "api_url" {
  value = "https://${azurerm_linux_web_app.this.default_hostname}"
}
