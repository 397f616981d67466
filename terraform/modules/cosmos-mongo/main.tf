# Cosmos DB account with the API for MongoDB (RU-based), serverless, one database and its collections.
resource "azurerm_cosmosdb_account" "this" {
  #checkov:skip=CKV_AZURE_101:Environments have no virtual network; the public endpoint is filtered by ip_range_filter (Azure services by default).
  #checkov:skip=CKV_AZURE_99:Access is restricted by ip_range_filter (default: Azure services only); no virtual network filter without a virtual network.
  #checkov:skip=CKV_AZURE_100:Microsoft-managed keys: customer-managed keys need a key per environment and forbid the quick purge of ephemeral vaults.
  location                              = var.location
  name                                  = var.name
  offer_type                            = "Standard"
  resource_group_name                   = var.resource_group_name
  access_key_metadata_writes_enabled    = false
  automatic_failover_enabled            = false
  free_tier_enabled                     = false
  ip_range_filter                       = var.ip_range_filter
  kind                                  = "MongoDB"
  local_authentication_disabled         = false
  minimal_tls_version                   = "Tls12"
  mongo_server_version                  = var.mongo_server_version
  multiple_write_locations_enabled      = false
  network_acl_bypass_for_azure_services = true
  public_network_access_enabled         = var.public_network_access_enabled
  tags                                  = var.tags

  capabilities {
    name = "EnableMongo"
  }

  capabilities {
    name = "EnableServerless"
  }

  consistency_policy {
    consistency_level = "Session"
  }

  geo_location {
    failover_priority = 0
    location          = var.location
    zone_redundant    = false
  }

  backup {
    type                = var.backup.type
    interval_in_minutes = var.backup.type == "Periodic" ? var.backup.interval_in_minutes : null
    retention_in_hours  = var.backup.type == "Periodic" ? var.backup.retention_in_hours : null
    storage_redundancy  = var.backup.type == "Periodic" ? var.backup.storage_redundancy : null
    tier                = var.backup.type == "Continuous" ? var.backup.tier : null
  }
}

resource "azurerm_cosmosdb_mongo_database" "this" {
  account_name        = azurerm_cosmosdb_account.this.name
  name                = var.database_name
  resource_group_name = var.resource_group_name
}

resource "azurerm_cosmosdb_mongo_collection" "this" {
  for_each = var.collections

  account_name        = azurerm_cosmosdb_account.this.name
  database_name       = azurerm_cosmosdb_mongo_database.this.name
  name                = each.key
  resource_group_name = var.resource_group_name
  default_ttl_seconds = each.value.default_ttl_seconds
  shard_key           = each.value.shard_key

  # Cosmos DB's API for MongoDB requires the _id index.
  index {
    keys   = ["_id"]
    unique = true
  }

  dynamic "index" {
    for_each = each.value.indexes

    content {
      keys   = index.value.keys
      unique = index.value.unique
    }
  }
}
