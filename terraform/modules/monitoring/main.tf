# Log Analytics workspace (the main resource) and a workspace-based Application Insights component on top of it.
resource "azurerm_log_analytics_workspace" "this" {
  location                     = var.location
  name                         = var.name
  resource_group_name          = var.resource_group_name
  daily_quota_gb               = var.daily_quota_gb
  internet_ingestion_enabled   = true
  internet_query_enabled       = true
  local_authentication_enabled = false
  retention_in_days            = var.retention_in_days
  sku                          = "PerGB2018"
  tags                         = var.tags
}

resource "azurerm_application_insights" "this" {
  application_type              = var.application_insights.application_type
  location                      = var.location
  name                          = coalesce(var.application_insights.name, "appi-${trimprefix(var.name, "log-")}")
  resource_group_name           = var.resource_group_name
  daily_data_cap_in_gb          = var.application_insights.daily_data_cap_in_gb
  local_authentication_disabled = var.application_insights.local_authentication_disabled
  retention_in_days             = var.retention_in_days
  sampling_percentage           = var.application_insights.sampling_percentage
  tags                          = var.tags
  workspace_id                  = azurerm_log_analytics_workspace.this.id
}
