terraform {
  # Write-only arguments (the admin password never enters the state) need Terraform 1.11.
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
}
