locals {
  resource_group_path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.resource_group_name}"
}

# The two Nuxt frontends (seed 002): the organisations' portal (usagers) and the administration's back office (bo).
module "this" {
  source   = "../../modules/site"
  for_each = var.frontends

  resource_group_path = local.resource_group_path
  product             = var.product
  environment         = var.environment
  name                = "stapp-${var.product}-${var.environment}-${each.key}"
  kind                = "static-web-app"
  hostname            = "${each.value.host_label}.${var.environment}.${var.dns_suffix}"
  simulated_seconds   = var.simulated_seconds
  settings = {
    AUDIENCE      = each.value.audience
    API_URL       = var.backend_url
    MAP_TILES_URL = var.map_tiles_url
  }
}
