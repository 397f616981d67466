locals {
  # Globally unique, 3 to 44 characters (terraform/modules/naming checks the limit).
  cosmos_account_name = module.naming.cosmos_account
}
