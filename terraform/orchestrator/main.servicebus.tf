# releases -> the orchestrator plans a run; steps -> one message per step to launch; step-events -> job outcomes.
resource "azurerm_servicebus_namespace" "this" {
  #checkov:skip=CKV_AZURE_199:Double encryption needs the Premium tier; Standard is enough for three low-volume queues.
  #checkov:skip=CKV_AZURE_201:Customer-managed keys need the Premium tier.
  #checkov:skip=CKV_AZURE_204:Public network access can only be disabled on Premium (private endpoints); access is Entra-only by default.
  location                      = azurerm_resource_group.this.location
  name                          = local.servicebus_name
  resource_group_name           = azurerm_resource_group.this.name
  sku                           = "Standard"
  local_auth_enabled            = var.servicebus_local_auth_enabled
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

# Send-only and Listen-only rules per queue, e.g. for a CI without workload identity that publishes releases. They
# work only while var.servicebus_local_auth_enabled is true; nightshift's own identities never use them.
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
