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

# The environments' subscription (var.environments_subscription_id, or this one): the sweeper's and the jobs' roles
# live there, and the resource providers the stacks use are registered there once, by this deployment, because the
# jobs hold no */register/action (the stacks set resource_provider_registrations = "none").
provider "azurerm" {
  alias = "environments"

  subscription_id                 = local.environments_subscription_id
  resource_provider_registrations = "none"
  resource_providers_to_register  = local.environment_resource_providers
  storage_use_azuread             = true

  features {}
}
