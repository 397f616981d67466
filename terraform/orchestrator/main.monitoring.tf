module "monitoring" {
  source = "../modules/monitoring"

  location            = azurerm_resource_group.this.location
  name                = "log-${var.instance_name}"
  resource_group_name = azurerm_resource_group.this.name
  retention_in_days   = var.log_retention_days
  application_insights = {
    name                          = "appi-${var.instance_name}"
    application_type              = "other"
    local_authentication_disabled = true
  }
  tags = local.tags
}

# The portal workbook: runs per night, delivery metrics, step durations, failures, expiries, dead letters. Its JSON is kept in
# workbooks/ so it can be edited in the portal's Advanced Editor and pasted back.
resource "azurerm_application_insights_workbook" "this" {
  data_json = templatefile("${path.module}/workbooks/nightshift.workbook.json.tftpl", {
    servicebus_namespace_id = azurerm_servicebus_namespace.this.id
  })
  display_name        = "nightshift (${var.instance_name})"
  location            = azurerm_resource_group.this.location
  name                = uuidv5("url", "https://nightshift/${var.instance_name}/workbook")
  resource_group_name = azurerm_resource_group.this.name
  category            = "workbook"
  description         = "nightshift runs, delivery metrics, steps, expiries and dead letters."
  source_id           = lower(module.monitoring.application_insights_id)
  tags                = local.tags
}

resource "azurerm_monitor_action_group" "this" {
  name                = "ag-${var.instance_name}"
  resource_group_name = azurerm_resource_group.this.name
  short_name          = substr(replace(var.instance_name, "-", ""), 0, 12)
  tags                = local.tags

  dynamic "email_receiver" {
    for_each = var.alert_email_receivers

    content {
      email_address           = email_receiver.value
      name                    = email_receiver.key
      use_common_alert_schema = true
    }
  }
}

# A dead-lettered message is a release, step or event nightshift gave up on: someone should look.
resource "azurerm_monitor_metric_alert" "dead_letters" {
  name                = "alert-${var.instance_name}-dead-letters"
  resource_group_name = azurerm_resource_group.this.name
  scopes              = [azurerm_servicebus_namespace.this.id]
  auto_mitigate       = true
  description         = "Messages were dead-lettered in a nightshift queue (max delivery count reached or expired). See the workbook's Dead letters tab."
  frequency           = "PT5M"
  severity            = 2
  window_size         = "PT15M"
  tags                = local.tags

  criteria {
    aggregation      = "Maximum"
    metric_name      = "DeadletteredMessages"
    metric_namespace = "Microsoft.ServiceBus/namespaces"
    operator         = "GreaterThan"
    threshold        = 0

    dimension {
      name     = "EntityName"
      operator = "Include"
      values   = ["*"]
    }
  }

  action {
    action_group_id = azurerm_monitor_action_group.this.id
  }
}

# A failed run is an environment someone expected and did not get. The handler's `nightshift.run.finished` event
# (a trace, never sampled: host.json) says so; the query is kept beside the workbook so the KQL test parses it too.
resource "azurerm_monitor_scheduled_query_rules_alert_v2" "failed_runs" {
  name                    = "alert-${var.instance_name}-failed-runs"
  location                = azurerm_resource_group.this.location
  resource_group_name     = azurerm_resource_group.this.name
  scopes                  = [module.monitoring.application_insights_id]
  description             = "A nightshift run failed. See `nightshift status` or the workbook's Failed steps tile for the step and its log."
  display_name            = "nightshift (${var.instance_name}): failed runs"
  evaluation_frequency    = "PT5M"
  window_duration         = "PT15M"
  severity                = 2
  auto_mitigation_enabled = true
  tags                    = local.tags

  criteria {
    query                   = file("${path.module}/workbooks/failed-runs.alert.kql")
    time_aggregation_method = "Total"
    metric_measure_column   = "failed_runs"
    operator                = "GreaterThan"
    threshold               = 0

    dimension {
      name     = "product"
      operator = "Include"
      values   = ["*"]
    }

    dimension {
      name     = "environment"
      operator = "Include"
      values   = ["*"]
    }

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.this.id]
  }
}
