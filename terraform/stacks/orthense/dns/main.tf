# Public names of the environment in Cloudflare: a CNAME per SPA and per API (DNS only, not proxied, so Azure can
# validate the domains and issue its managed certificates), the asuid TXT records App Service needs, and the
# matching custom-domain bindings on the Azure side.
module "records" {
  source = "../../../modules/cloudflare-dns"

  zone_id        = var.cloudflare_zone_id
  zone_name      = var.dns_zone_name
  records        = local.records
  comment_suffix = "${var.product}/${var.environment}"
}

resource "azurerm_static_web_app_custom_domain" "spa" {
  for_each = var.spa_ids

  domain_name       = "${var.spa_record_names[each.key]}${local.dns_suffix}.${var.dns_zone_name}"
  static_web_app_id = each.value
  validation_type   = "cname-delegation"

  depends_on = [module.records]
}

resource "azurerm_app_service_custom_hostname_binding" "api" {
  for_each = local.apis

  app_service_name    = each.value.app_name
  hostname            = "${each.value.record_name}${local.dns_suffix}.${var.dns_zone_name}"
  resource_group_name = var.resource_group_name

  depends_on = [module.records]

  lifecycle {
    # The certificate binding below sets these.
    ignore_changes = [ssl_state, thumbprint]
  }
}

resource "azurerm_app_service_managed_certificate" "api" {
  for_each = local.apis

  custom_hostname_binding_id = azurerm_app_service_custom_hostname_binding.api[each.key].id
  tags                       = local.resource_tags
}

resource "azurerm_app_service_certificate_binding" "api" {
  for_each = local.apis

  certificate_id      = azurerm_app_service_managed_certificate.api[each.key].id
  hostname_binding_id = azurerm_app_service_custom_hostname_binding.api[each.key].id
  ssl_state           = "SniEnabled"
}
