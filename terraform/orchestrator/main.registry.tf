# The runner image (terraform, ansible, the smoke tools) the jobs run. Pulled by the jobs' identity (AcrPull), no
# admin user, no anonymous pull.
resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_139:Container Instances without a virtual network pull over the public endpoint; pulls need an Entra token.
  #checkov:skip=CKV_AZURE_163:Image scanning is Defender for Containers, enabled per subscription outside this configuration.
  #checkov:skip=CKV_AZURE_164:Content trust needs Premium and signed images; the runner image is built and pushed by our own CI.
  #checkov:skip=CKV_AZURE_165:Geo-replication needs Premium; one region is enough for one orchestrator.
  #checkov:skip=CKV_AZURE_166:Quarantine needs Premium and a scanner in the push path.
  #checkov:skip=CKV_AZURE_167:Untagged-manifest retention needs Premium; CI pushes tagged images only.
  #checkov:skip=CKV_AZURE_233:Zone redundancy needs Premium.
  #checkov:skip=CKV_AZURE_237:Dedicated data endpoints need Premium.
  location                      = azurerm_resource_group.this.location
  name                          = local.registry_name
  resource_group_name           = azurerm_resource_group.this.name
  sku                           = "Standard"
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  public_network_access_enabled = true
  tags                          = local.tags
}
