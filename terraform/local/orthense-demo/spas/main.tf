locals {
  resource_group_path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.resource_group_name}"
}

# The three SPAs (PRO, PATIENT, Backoffice) as Static Web Apps, one per key of var.spas.
module "this" {
  source   = "../../modules/site"
  for_each = var.spas

  resource_group_path = local.resource_group_path
  product             = var.product
  environment         = var.environment
  name                = "stapp-${var.product}-${var.environment}-${each.key}"
  kind                = "static-web-app"
  hostname            = "${each.value.host_label}.${var.environment}.${var.dns_suffix}"
  simulated_seconds   = var.simulated_seconds
  settings = merge(
    { AUDIENCE = each.value.audience },
    var.api_medical_url == "" ? {} : { API_URL = var.api_medical_url },
    var.api_accounts_url == "" ? {} : { OIDC_AUTHORITY = var.api_accounts_url },
  )
}
