# VAO's landing zone in the local cloud (seed 002: each environment isolated from the others): the resource group,
# which holds everything the later layers create, and the Key Vault holding the backend's secrets (SMTP, the
# API Entreprise and INSEE tokens). Deleting the group deletes the whole environment.
locals {
  resource_group_name = "rg-${var.product}-${var.environment}"
  # Azure Key Vault names are 3..24 characters and globally unique: a readable prefix plus a stable hash.
  key_vault_name = "kv-${trimsuffix(substr(var.product, 0, 12), "-")}-${substr(sha1("${var.product}/${var.environment}"), 0, 8)}"
}

module "resource_group" {
  source = "../../modules/resource-group"

  name            = local.resource_group_name
  local_cloud_dir = var.local_cloud_dir
  product         = var.product
  environment     = var.environment
  tags            = var.nightshift_tags
}

module "key_vault" {
  source = "../../modules/key-vault"

  name                = local.key_vault_name
  resource_group_path = module.resource_group.path
  secret_names        = var.key_vault_secret_names
  simulated_seconds   = var.simulated_seconds
}
