# Authentication comes from the environment: in nightshift's jobs the user-assigned identity
# (ARM_USE_MSI, ARM_CLIENT_ID, ARM_SUBSCRIPTION_ID, ARM_TENANT_ID); on a workstation the Azure CLI login.
provider "azurerm" {
  # The jobs hold no */register/action: the orchestrator's deployment registers the resource providers the stacks
  # use, once, in the environments' subscription (terraform/orchestrator/providers.tf).
  resource_provider_registrations = "none"
  storage_use_azuread             = true

  features {
    key_vault {
      # The sweep, not Terraform, removes ephemeral environments; a `terraform destroy` by hand must not purge.
      purge_soft_delete_on_destroy = false
      # Never bring back a soft-deleted vault with its old secrets: an ephemeral environment's vault is purged by
      # the sweep (possibly on a later pass); until then the create fails, and the step is retried.
      recover_soft_deleted_key_vaults = false
    }

    resource_group {
      prevent_deletion_if_contains_resources = false
    }
  }
}

# Reads its API token from CLOUDFLARE_API_TOKEN, which nightshift injects from Key Vault (the step's `secrets:`).
provider "cloudflare" {}
