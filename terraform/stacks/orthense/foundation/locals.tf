locals {
  # Globally unique, 3 to 24 characters (terraform/modules/naming checks the limit).
  key_vault_name = module.naming.key_vault
}
