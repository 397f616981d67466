# Server auditing to Azure Monitor: the audit records go to the Log Analytics workspace through the master
# database's diagnostic setting (retention is the workspace's).
resource "azurerm_mssql_server_extended_auditing_policy" "this" {
  server_id              = azurerm_mssql_server.this.id
  log_monitoring_enabled = true
}

resource "azurerm_monitor_diagnostic_setting" "auditing" {
  count = var.log_analytics_workspace_id == null ? 0 : 1

  name                       = "diag-${var.name}-audit"
  target_resource_id         = "${azurerm_mssql_server.this.id}/databases/master"
  log_analytics_workspace_id = var.log_analytics_workspace_id

  enabled_log {
    category = "SQLSecurityAuditEvents"
  }

  depends_on = [azurerm_mssql_server_extended_auditing_policy.this]
}
