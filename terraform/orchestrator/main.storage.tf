# Journals, job logs, every Terraform state and the function package. Shared keys are disabled: the Functions host
# (AzureWebJobsStorage__credential), the Terraform azurerm backend (use_azuread_auth) and nightshift itself all use
# Entra tokens, so no account key exists to leak and access is per identity and per container.
resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV_AZURE_43:The name is computed (st + instance + hash, lowercase, at most 24 characters); checkov cannot evaluate it.
  #checkov:skip=CKV_AZURE_33:Queue service unused (messaging is Service Bus); its logging settings need shared-key data-plane calls.
  #checkov:skip=CKV_AZURE_35:The Premium plan has no virtual network here; network rules would lock out the function host and the jobs. Access is Entra-only instead.
  #checkov:skip=CKV_AZURE_59:Same reason: the public endpoint stays on, but shared keys and anonymous access are off.
  #checkov:skip=CKV2_AZURE_33:No virtual network, hence no private endpoint (see CKV_AZURE_35).
  #checkov:skip=CKV2_AZURE_1:Microsoft-managed keys are enough for state and logs of test environments.
  #checkov:skip=CKV_AZURE_206:Zone-redundant (ZRS) is chosen; geo-replication of disposable state is not worth its cost.
  account_replication_type          = "ZRS"
  account_tier                      = "Standard"
  location                          = azurerm_resource_group.this.location
  name                              = local.storage_account_name
  resource_group_name               = azurerm_resource_group.this.name
  access_tier                       = "Hot"
  account_kind                      = "StorageV2"
  allow_nested_items_to_be_public   = false
  cross_tenant_replication_enabled  = false
  default_to_oauth_authentication   = true
  https_traffic_only_enabled        = true
  infrastructure_encryption_enabled = true
  local_user_enabled                = false
  min_tls_version                   = "TLS1_2"
  public_network_access_enabled     = true
  sftp_enabled                      = false
  shared_access_key_enabled         = false
  tags                              = local.tags

  blob_properties {
    # Versions let an operator roll a Terraform state back; deleted blobs stay recoverable a week.
    versioning_enabled = true

    container_delete_retention_policy {
      days = 7
    }

    delete_retention_policy {
      days = 7
    }
  }

  sas_policy {
    expiration_period = "0.01:00:00"
  }
}

resource "azurerm_storage_container" "this" {
  #checkov:skip=CKV2_AZURE_21:Blob read/write/delete logs go to Log Analytics through the diagnostic setting storage_blob below (classic Storage Analytics logging needs shared keys).
  for_each = local.containers

  name                  = each.key
  container_access_type = "private"
  metadata              = { purpose = replace(lower(each.value), "/[^a-z0-9]+/", "_") }
  storage_account_id    = azurerm_storage_account.this.id
}

resource "azurerm_monitor_diagnostic_setting" "storage_blob" {
  name                       = "diag-blob"
  target_resource_id         = "${azurerm_storage_account.this.id}/blobServices/default"
  log_analytics_workspace_id = module.monitoring.resource_id

  enabled_log {
    category_group = "audit"
  }
}

# Versioning keeps every state write: without a lifecycle, old versions of the states (secrets in sensitive
# attributes included) pile up forever. Keep them var.state_version_retention_days for roll-backs, then delete.
resource "azurerm_storage_management_policy" "state_versions" {
  storage_account_id = azurerm_storage_account.this.id

  rule {
    enabled = true
    name    = "expire-old-state-versions"

    actions {
      version {
        delete_after_days_since_creation = var.state_version_retention_days
      }
    }

    filters {
      blob_types   = ["blockBlob"]
      prefix_match = [for c in ["tfstate", "orchestrator-state"] : "${azurerm_storage_container.this[c].name}/"]
    }
  }
}
