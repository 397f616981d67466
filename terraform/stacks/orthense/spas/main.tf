# The three single-page applications (PRO, PATIENT, Backoffice), one Static Web App each.
module "spa" {
  source   = "../../../modules/static-web-app"
  for_each = var.spas

  location            = var.static_web_app_location
  name                = module.naming.static_web_apps[each.key]
  resource_group_name = var.resource_group_name
  sku                 = local.ephemeral ? "Free" : each.value.persistent_sku
  tags                = merge(local.resource_tags, { "orthense-spa" = each.value.display_name })
}
