terraform {
  # Write-only arguments (the step secrets' placeholders) need Terraform 1.11.
  required_version = ">= 1.11"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.73"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.13"
    }
  }

  # Partial configuration, key "nightshift/orchestrator.tfstate" in the "orchestrator-state" container of the storage
  # account this configuration creates (not "tfstate": the jobs write there). The first apply runs with a local state, then `terraform init -migrate-state`
  # moves it there (terraform/README.md, "Deploying the orchestrator").
  backend "azurerm" {}
}
