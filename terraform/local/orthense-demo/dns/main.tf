locals {
  resource_group_path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.resource_group_name}"
  resource_group_tags = try(jsondecode(file("${local.resource_group_path}/tags.json")), {})
  zone_name           = "${var.environment}.${var.dns_suffix}"
  zone_path           = "${local.resource_group_path}/dns-zones/${local.zone_name}"

  urls = merge(
    var.api_medical_url == "" ? {} : { "api-medical" = var.api_medical_url },
    var.api_accounts_url == "" ? {} : { "api-accounts" = var.api_accounts_url },
    { for k, u in var.spa_urls : "spa-${k}" => u },
  )
  # host name -> record, e.g. "api-medical.nightly.orthense.local" -> "CNAME edge.local-cloud.internal"
  records = { for k, u in local.urls : regex("^https?://([^/:]+)", u)[0] => "CNAME ${var.edge_hostname}" }
}

# The environment's DNS zone (Cloudflare in Azure mode) and its records, in one records.json file.
resource "terraform_data" "this" {
  input            = { name = local.zone_name, path = local.zone_path }
  triggers_replace = [local.zone_path, local.records]

  lifecycle {
    # Fail at plan time, as Azure would with ResourceGroupNotFound, and never write into another environment's group
    # (its data would live and die with that environment). Not evaluated on destroy, so a swept group destroys fine.
    precondition {
      condition     = lookup(local.resource_group_tags, "nightshift-product", "") == var.product && lookup(local.resource_group_tags, "nightshift-environment", "") == var.environment
      error_message = "Resource group ${local.resource_group_path} not found, or not tagged for ${var.product}/${var.environment}: apply this environment's foundation layer first."
    }

    precondition {
      condition     = alltrue([for h in keys(local.records) : endswith(h, ".${local.zone_name}")])
      error_message = "Every URL must be under the environment's zone ${local.zone_name}; got ${join(", ", keys(local.records))}."
    }
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      [ -d "$RG_PATH" ] || { echo "ResourceGroupNotFound: $RG_PATH does not exist (foundation not applied, or swept)" >&2; exit 1; }
      sleep "$SIMULATED_SECONDS"
      mkdir -p "$ZONE_PATH"
      printf '%s\n' "$RECORDS" > "$ZONE_PATH/records.json.tmp"
      mv "$ZONE_PATH/records.json.tmp" "$ZONE_PATH/records.json"
    EOT
    environment = {
      RG_PATH           = local.resource_group_path
      ZONE_PATH         = local.zone_path
      SIMULATED_SECONDS = tostring(var.simulated_seconds)
      RECORDS           = jsonencode({ zone = local.zone_name, records = local.records })
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = "rm -rf \"$ZONE_PATH\""
    environment = { ZONE_PATH = self.output.path }
  }
}
