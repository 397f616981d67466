# One API on Linux App Service. Secrets never appear in app settings: each is a Key Vault reference
# (@Microsoft.KeyVault(SecretUri=...)) resolved by the platform with the app's managed identity.
resource "azurerm_linux_web_app" "this" {
  #checkov:skip=CKV_AZURE_222:A public API called by browsers (the SPAs); callers restrict it with var.public_network_access_enabled when fronted otherwise.
  #checkov:skip=CKV_AZURE_13:The APIs validate bearer JWTs themselves (the accounts API is the token issuer); Easy Auth would sit in front of the STS.
  #checkov:skip=CKV_AZURE_88:Stateless API: nothing is written to a file share.
  location                                       = var.location
  name                                           = var.name
  resource_group_name                            = var.resource_group_name
  service_plan_id                                = var.service_plan_id
  app_settings                                   = local.app_settings
  client_affinity_enabled                        = false
  client_certificate_enabled                     = var.client_certificate_mode != "Optional"
  client_certificate_mode                        = var.client_certificate_mode
  ftp_publish_basic_authentication_enabled       = false
  https_only                                     = true
  key_vault_reference_identity_id                = local.key_vault_reference_identity_id
  public_network_access_enabled                  = var.public_network_access_enabled
  tags                                           = var.tags
  webdeploy_publish_basic_authentication_enabled = false

  identity {
    type         = local.identity_type
    identity_ids = length(var.managed_identities.user_assigned_resource_ids) > 0 ? var.managed_identities.user_assigned_resource_ids : null
  }

  logs {
    detailed_error_messages = true
    failed_request_tracing  = true

    http_logs {
      file_system {
        retention_in_days = var.log_retention_days
        retention_in_mb   = 35
      }
    }
  }

  site_config {
    always_on                         = var.always_on
    ftps_state                        = "Disabled"
    health_check_eviction_time_in_min = var.health_check_path == null ? null : 5
    health_check_path                 = var.health_check_path
    http2_enabled                     = true
    minimum_tls_version               = "1.2"
    scm_minimum_tls_version           = "1.2"
    use_32_bit_worker                 = false

    application_stack {
      docker_image_name   = var.application_stack.docker_image_name
      docker_registry_url = var.application_stack.docker_registry_url
      dotnet_version      = var.application_stack.dotnet_version
      node_version        = var.application_stack.node_version
      python_version      = var.application_stack.python_version
    }

    cors {
      allowed_origins     = var.cors_allowed_origins
      support_credentials = length(var.cors_allowed_origins) > 0
    }
  }
}
