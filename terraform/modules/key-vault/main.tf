# A Key Vault with Azure RBAC authorization (no access policies). Purge protection is a choice of the caller:
# off for ephemeral environments, so their soft-deleted vault can be purged after the sweep and the name reused;
# on for persistent ones.
resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_109:The default action is the caller's choice (var.network_acls, Deny by default); environments without a virtual network pass Allow because App Service resolves Key Vault references over the public endpoint.
  #checkov:skip=CKV_AZURE_110:Purge protection is the caller's choice (var.purge_protection_enabled): off for ephemeral environments so the sweep can purge their vault, on for persistent ones.
  #checkov:skip=CKV2_AZURE_32:No virtual network in the environments, hence no private endpoint; access is Entra RBAC only.
  location                        = var.location
  name                            = var.name
  resource_group_name             = var.resource_group_name
  sku_name                        = var.sku_name
  tenant_id                       = var.tenant_id
  enabled_for_deployment          = false
  enabled_for_disk_encryption     = false
  enabled_for_template_deployment = false
  public_network_access_enabled   = var.public_network_access_enabled
  purge_protection_enabled        = var.purge_protection_enabled
  rbac_authorization_enabled      = true
  soft_delete_retention_days      = var.soft_delete_retention_days
  tags                            = var.tags

  network_acls {
    bypass                     = var.network_acls.bypass
    default_action             = var.network_acls.default_action
    ip_rules                   = var.network_acls.ip_rules
    virtual_network_subnet_ids = var.network_acls.virtual_network_subnet_ids
  }
}
