locals {
  # Custom host names, same rule as the dns layer: "<spa>-<environment>", or "<spa>" for the apex environment.
  dns_suffix = var.environment == var.apex_environment ? "" : "-${var.environment}"

  custom_hostnames = var.dns_zone_name == null ? {} : {
    for key, spa in var.spas : key => "${spa.record_name}${local.dns_suffix}.${var.dns_zone_name}"
  }

  spa_origins = concat(
    [for key, m in module.spa : "https://${m.default_host_name}"],
    [for key, host in local.custom_hostnames : "https://${host}"],
  )
}
