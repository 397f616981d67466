terraform {
  # Write-only arguments and ephemeral resources (modules/mssql) need Terraform 1.11.
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.73"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.9"
    }
  }

  # Partial configuration: nightshift passes storage_account_name, container_name, key and use_azuread_auth at
  # `terraform init -backend-config=...`. The key is "<product>/<environment>/data-sql.tfstate",
  # e.g. "orthense/pr-123/data-sql.tfstate" (see terraform/README.md).
  backend "azurerm" {}
}
