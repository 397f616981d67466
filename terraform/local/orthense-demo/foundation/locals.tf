locals {
  cloud_dir = abspath(var.local_cloud_dir)

  # Unique per product and environment: the sweep and every later step find the group by this name.
  resource_group_name = "rg-${var.product}-${var.environment}"
  resource_group_path = "${local.cloud_dir}/resource-groups/${local.resource_group_name}"

  # Azure Key Vault names are 3..24 characters and globally unique: a readable prefix plus a stable hash.
  key_vault_name = "kv-${trimsuffix(substr(var.product, 0, 12), "-")}-${substr(sha1("${var.product}/${var.environment}"), 0, 8)}"

  app_insights_name = "appi-${var.product}-${var.environment}"
  app_insights_path = "${local.resource_group_path}/monitoring/${local.app_insights_name}"
  # Stable fake instrumentation key: same environment, same key across re-applies.
  app_insights_key               = uuidv5("url", "https://local.nightshift/${local.resource_group_name}/${local.app_insights_name}")
  app_insights_connection_string = "InstrumentationKey=${local.app_insights_key};IngestionEndpoint=file://${local.app_insights_path}/telemetry/"
}
