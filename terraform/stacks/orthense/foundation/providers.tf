# Authentication comes from the environment: in nightshift's jobs the user-assigned identity
# (ARM_USE_MSI, ARM_CLIENT_ID, ARM_SUBSCRIPTION_ID, ARM_TENANT_ID); on a workstation the Azure CLI login.
provider "azurerm" {
  storage_use_azuread = true

  features {
    key_vault {
      # The sweep, not Terraform, removes ephemeral environments; a `terraform destroy` by hand must not purge.
      purge_soft_delete_on_destroy    = false
      recover_soft_deleted_key_vaults = true
    }

    resource_group {
      prevent_deletion_if_contains_resources = false
    }
  }
}
