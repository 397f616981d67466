# Key Vault: secret VALUES are never written by Terraform; in Azure they are set out of band and read at run time by
# the steps that need them.
module "key_vault" {
  source = "../../modules/key-vault"

  name                = local.key_vault_name
  resource_group_path = module.resource_group.path
  secret_names        = var.key_vault_secret_names
  simulated_seconds   = var.simulated_seconds
}

moved {
  from = terraform_data.key_vault
  to   = module.key_vault.terraform_data.this
}
