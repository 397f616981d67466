# Elastic Premium (EP1), not Flex Consumption: Flex rejects the FUNCTIONS_WORKER_RUNTIME app setting (its runtime
# is set in functionAppConfig) and the custom handler is configured through it here; Premium keeps one instance warm
# (the release HTTP endpoint answers at once, the Service Bus triggers listen all night), has no execution time
# limit, and supports WEBSITE_TIME_ZONE, which we still do not use: nightshift evaluates the catalog's time zones
# in its own code and the timer runs in UTC. See terraform/README.md.
resource "azurerm_service_plan" "this" {
  #checkov:skip=CKV_AZURE_212:One warm instance suffices: work is queued in Service Bus and survives an instance failure.
  #checkov:skip=CKV_AZURE_225:Zone redundancy needs three instances; not worth it for a nightly scheduler.
  location                     = azurerm_resource_group.this.location
  name                         = "asp-${var.instance_name}"
  os_type                      = "Linux"
  resource_group_name          = azurerm_resource_group.this.name
  sku_name                     = var.function_plan_sku
  maximum_elastic_worker_count = var.function_max_instances
  tags                         = local.tags
}

resource "azurerm_linux_function_app" "this" {
  #checkov:skip=CKV_AZURE_221:The release and status HTTP functions are called by CI and operators over the internet; they use function keys.
  #checkov:skip=CKV_AZURE_70:https_only is true; this older check misreads the argument.
  location                                       = azurerm_resource_group.this.location
  name                                           = local.function_app_name
  resource_group_name                            = azurerm_resource_group.this.name
  service_plan_id                                = azurerm_service_plan.this.id
  app_settings                                   = local.function_app_settings
  builtin_logging_enabled                        = false
  client_certificate_enabled                     = false
  client_certificate_mode                        = "Optional"
  content_share_force_disabled                   = true
  ftp_publish_basic_authentication_enabled       = false
  functions_extension_version                    = "~4"
  https_only                                     = true
  key_vault_reference_identity_id                = azurerm_user_assigned_identity.orchestrator.id
  public_network_access_enabled                  = true
  storage_account_name                           = azurerm_storage_account.this.name
  storage_uses_managed_identity                  = true
  tags                                           = local.tags
  webdeploy_publish_basic_authentication_enabled = false

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.orchestrator.id]
  }

  # No health_check_path until an anonymous `health` HTTP function exists in function-definitions/ (App Service
  # would evict every instance probing a 404); crates/app/tests/terraform_azure.rs checks that the path, once set,
  # names such a function.
  site_config {
    always_on                        = false
    elastic_instance_minimum         = 1
    ftps_state                       = "Disabled"
    http2_enabled                    = true
    minimum_tls_version              = "1.2"
    pre_warmed_instance_count        = 1
    runtime_scale_monitoring_enabled = true
    scm_minimum_tls_version          = "1.2"
    use_32_bit_worker                = false
  }

  # Roles first, so the host can read its storage, package and Key Vault references at first start.
  depends_on = [
    azurerm_role_assignment.orchestrator_storage,
    module.key_vault,
  ]
}

locals {
  servicebus_fqdn = "${azurerm_servicebus_namespace.this.name}.servicebus.windows.net"

  function_app_settings = {
    # The custom handler: host.json names the nightshift binary (customHandler.description.defaultExecutablePath).
    FUNCTIONS_WORKER_RUNTIME = "Custom"
    NIGHTSHIFT_MODE          = "azure"
    NIGHTSHIFT_INSTANCE      = var.instance_name

    # Identity-based connections: no connection string, no key.
    ServiceBus__fullyQualifiedNamespace = local.servicebus_fqdn
    ServiceBus__credential              = "managedidentity"
    ServiceBus__clientId                = azurerm_user_assigned_identity.orchestrator.client_id
    AzureWebJobsStorage__credential     = "managedidentity"
    AzureWebJobsStorage__clientId       = azurerm_user_assigned_identity.orchestrator.client_id

    # The package is a blob read with the identity (no Azure Files content share: shared keys are off).
    WEBSITE_RUN_FROM_PACKAGE                     = "${azurerm_storage_account.this.primary_blob_endpoint}deployments/${var.function_package_blob_name}"
    WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID = azurerm_user_assigned_identity.orchestrator.id

    APPLICATIONINSIGHTS_CONNECTION_STRING     = "@Microsoft.KeyVault(SecretUri=${azurerm_key_vault_secret.app_insights_connection_string.versionless_id})"
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING = "Authorization=AAD;ClientId=${azurerm_user_assigned_identity.orchestrator.client_id}"

    # Azure Resource Manager and data-plane targets of nightshift's adapters: the names are the code's (see
    # docs/settings.md; crates/app/tests/deploy_files.rs checks them). Every one that AzureConfig::job_env() hands to
    # the runner containers is set here. No credential: calls use the identity, Service Bus sends a SAS key from Key
    # Vault.
    AZURE_CLIENT_ID            = azurerm_user_assigned_identity.orchestrator.client_id
    NIGHTSHIFT_SUBSCRIPTION_ID = data.azurerm_client_config.current.subscription_id
    # The environments may live in a dedicated subscription: the sweep lists and deletes there, the jobs' Terraform
    # builds there (ARM_SUBSCRIPTION_ID); the jobs' container groups stay in this one.
    NIGHTSHIFT_ENVIRONMENTS_SUBSCRIPTION_ID = local.environments_subscription_id
    NIGHTSHIFT_TERRAFORM_SUBSCRIPTION_ID    = local.environments_subscription_id
    NIGHTSHIFT_STORAGE_ACCOUNT              = azurerm_storage_account.this.name
    NIGHTSHIFT_STORAGE_CONTAINER            = azurerm_storage_container.this["journals"].name
    NIGHTSHIFT_SERVICEBUS_NAMESPACE         = local.servicebus_fqdn
    # nightshift's own sends (scheduled retries, job results) are signed with this Send-only policy's SAS key, read
    # from this vault secret at first use: names only here, the key lives in Key Vault (main.keyvault.tf).
    NIGHTSHIFT_SERVICEBUS_SEND_POLICY = azurerm_servicebus_namespace_authorization_rule.nightshift_send.name
    NIGHTSHIFT_SERVICEBUS_KEY_SECRET  = azurerm_key_vault_secret.servicebus_send_key.name
    NIGHTSHIFT_KEY_VAULT_URL          = module.key_vault.uri
    NIGHTSHIFT_ARM_ENDPOINT           = "https://management.azure.com"
    NIGHTSHIFT_ACI_RESOURCE_GROUP     = azurerm_resource_group.jobs.name
    NIGHTSHIFT_ACI_LOCATION           = azurerm_resource_group.this.location
    NIGHTSHIFT_ACI_IDENTITY_ID        = azurerm_user_assigned_identity.jobs.id
    NIGHTSHIFT_ACI_IDENTITY_CLIENT_ID = azurerm_user_assigned_identity.jobs.client_id
    NIGHTSHIFT_ACI_REGISTRY_SERVER    = azurerm_container_registry.this.login_server
    NIGHTSHIFT_RUNNER_IMAGE           = "${azurerm_container_registry.this.login_server}/${var.runner_image}"
    # Passed on to each step container: the azurerm backend of the stacks, one state per product/environment/layer.
    NIGHTSHIFT_TFSTATE_STORAGE_ACCOUNT = azurerm_storage_account.this.name
    NIGHTSHIFT_TFSTATE_CONTAINER       = azurerm_storage_container.this["tfstate"].name
    NIGHTSHIFT_TFSTATE_RESOURCE_GROUP  = azurerm_resource_group.this.name
    # NCRONTAB, UTC: the timers only wake nightshift up; which environment is due is decided in its code from the
    # catalog's schedule and IANA time zone (WEBSITE_TIME_ZONE is not used).
    NIGHTLY_SCHEDULE  = var.timer_schedule
    WATCHDOG_SCHEDULE = var.watchdog_schedule
    SWEEP_SCHEDULE    = var.sweep_schedule
  }
}
