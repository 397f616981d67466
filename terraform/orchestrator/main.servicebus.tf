# releases -> the orchestrator plans a run; steps -> one message per step to launch; step-events -> job outcomes.
resource "azurerm_servicebus_namespace" "this" {
  #checkov:skip=CKV_AZURE_199:Double encryption needs the Premium tier; Standard is enough for three low-volume queues.
  #checkov:skip=CKV_AZURE_201:Customer-managed keys need the Premium tier.
  #checkov:skip=CKV_AZURE_203:nightshift's sender signs with the Send-only SAS policy nightshift-send (key in Key Vault), as the code requires; see local_auth_enabled below.
  #checkov:skip=CKV_AZURE_204:Public network access can only be disabled on Premium (private endpoints); SAS keys live only in Key Vault and Entra roles guard the rest.
  location            = azurerm_resource_group.this.location
  name                = local.servicebus_name
  resource_group_name = azurerm_resource_group.this.name
  sku                 = "Standard"
  # SAS must be allowed: nightshift's own sender (crates/azure/src/servicebus.rs: scheduled retries on `steps`, job
  # results on `step-events`) signs its REST sends with the Send-only policy `nightshift-send` below, whose key it
  # reads from Key Vault. The Functions host's triggers and output bindings stay identity-based
  # (ServiceBus__credential = managedidentity). Local auth is namespace-wide, not per rule: every rule's key works
  # while it is on, but keys are readable only with listKeys on the namespace, and the one nightshift uses is copied
  # by Terraform into the orchestrator's vault (and its Entra-only state), never into the repository or app settings.
  local_auth_enabled            = true
  minimum_tls_version           = "1.2"
  public_network_access_enabled = true
  tags                          = local.tags

  identity {
    type = "SystemAssigned"
  }
}

resource "azurerm_servicebus_queue" "this" {
  for_each = local.queues

  name                                    = each.key
  namespace_id                            = azurerm_servicebus_namespace.this.id
  batched_operations_enabled              = true
  dead_lettering_on_message_expiration    = true
  default_message_ttl                     = each.value.default_message_ttl
  duplicate_detection_history_time_window = var.servicebus_duplicate_detection_window
  lock_duration                           = each.value.lock_duration
  max_delivery_count                      = var.servicebus_max_delivery_count
  max_size_in_megabytes                   = 1024
  partitioning_enabled                    = false
  requires_duplicate_detection            = true
  requires_session                        = false
}

# The policy nightshift's sender signs with: one namespace-level Send-only rule, because the code uses one policy name
# and one key for both queues it sends to (`steps`, `step-events`). No Listen, no Manage. Its name is the code's
# default (NIGHTSHIFT_SERVICEBUS_SEND_POLICY), also set explicitly in the app settings.
resource "azurerm_servicebus_namespace_authorization_rule" "nightshift_send" {
  name         = "nightshift-send"
  namespace_id = azurerm_servicebus_namespace.this.id
  listen       = false
  manage       = false
  send         = true
}

# Send-only and Listen-only rules per queue, for operators or a CI without workload identity that publishes releases.
# nightshift itself does not use them (its key is nightshift-send's, above).
resource "azurerm_servicebus_queue_authorization_rule" "this" {
  for_each = local.queue_rules

  name     = each.key
  queue_id = azurerm_servicebus_queue.this[each.value.queue].id
  listen   = each.value.listen
  manage   = false
  send     = each.value.send
}

resource "azurerm_monitor_diagnostic_setting" "servicebus" {
  name                       = "diag-${local.servicebus_name}"
  target_resource_id         = azurerm_servicebus_namespace.this.id
  log_analytics_workspace_id = module.monitoring.resource_id

  enabled_log {
    category_group = "allLogs"
  }

  enabled_metric {
    category = "AllMetrics"
  }
}
