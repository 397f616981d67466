locals {
  # Same rule as the spas layer: "<name>-<environment>", or "<name>" for the apex environment.
  dns_suffix = var.environment == var.apex_environment ? "" : "-${var.environment}"

  apis = {
    medical = {
      app_name         = var.api_medical_app_name
      default_hostname = var.api_medical_default_hostname
      verification_id  = var.api_medical_verification_id
      record_name      = "api-medical"
    }
    accounts = {
      app_name         = var.api_accounts_app_name
      default_hostname = var.api_accounts_default_hostname
      verification_id  = var.api_accounts_verification_id
      record_name      = "api-accounts"
    }
  }

  records = merge(
    {
      for key, host in var.spa_default_hostnames : "spa_${key}" => {
        name    = "${var.spa_record_names[key]}${local.dns_suffix}"
        type    = "CNAME"
        content = host
      }
    },
    {
      for key, api in local.apis : "api_${key}" => {
        name    = "${api.record_name}${local.dns_suffix}"
        type    = "CNAME"
        content = api.default_hostname
      }
    },
    {
      for key, api in local.apis : "asuid_api_${key}" => {
        name    = "asuid.${api.record_name}${local.dns_suffix}"
        type    = "TXT"
        content = "\"${api.verification_id}\""
      }
    },
  )
}
