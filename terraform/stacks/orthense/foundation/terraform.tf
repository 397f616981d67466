terraform {
  # Write-only arguments (modules/sendgrid-secret) need Terraform 1.11.
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.73"
    }
  }

  # Partial configuration: nightshift passes storage_account_name, container_name, key and use_azuread_auth at
  # `terraform init -backend-config=...`. The key is "<product>/<environment>/foundation.tfstate",
  # e.g. "orthense/pr-123/foundation.tfstate" (see terraform/README.md).
  backend "azurerm" {}
}
