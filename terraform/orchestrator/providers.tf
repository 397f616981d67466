# Authentication from the environment (Azure CLI login of an operator who may create role definitions, e.g. Owner
# or User Access Administrator + Contributor on the subscription).
provider "azurerm" {
  # The storage account has shared keys disabled: every data-plane call uses Entra tokens.
  storage_use_azuread = true

  features {
    key_vault {
      purge_soft_delete_on_destroy = false
    }
  }
}
