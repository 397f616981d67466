terraform {
  # Write-only arguments and ephemeral resources (modules/mssql) need Terraform 1.11.
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.73"
    }
  }

  # Partial configuration, key "nightshift/orchestrator.tfstate" in the "tfstate" container of the storage account
  # this configuration creates. The first apply runs with a local state, then `terraform init -migrate-state`
  # moves it there (terraform/README.md, "Deploying the orchestrator").
  backend "azurerm" {}
}
