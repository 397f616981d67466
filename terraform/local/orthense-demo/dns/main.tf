locals {
  resource_group_path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.resource_group_name}"
  resource_group_tags = try(jsondecode(file("${local.resource_group_path}/tags.json")), {})
  # The parent zone is shared by every environment and lives OUTSIDE any resource group, as a Cloudflare zone does:
  # deleting the environment's groups leaves its records there. nightshift destroys this layer before it deletes the
  # groups (the catalog's `teardown: terraform`).
  zone_name    = var.dns_suffix
  zone_path    = "${abspath(var.local_cloud_dir)}/dns-zones/${local.zone_name}"
  env_zone     = "${var.environment}.${var.dns_suffix}"
  records_path = "${local.zone_path}/records"

  urls = merge(
    var.api_medical_url == "" ? {} : { "api-medical" = var.api_medical_url },
    var.api_accounts_url == "" ? {} : { "api-accounts" = var.api_accounts_url },
    { for k, u in var.spa_urls : "spa-${k}" => u },
  )
  # host name -> record, e.g. "api-medical.nightly.orthense.local" -> "CNAME edge.local-cloud.internal"
  records = { for k, u in local.urls : regex("^https?://([^/:]+)", u)[0] => "CNAME ${var.edge_hostname}" }
}

# One record of the shared zone, one file: <local cloud>/dns-zones/<zone>/records/<host name>.json. Creating a
# record that exists fails, as Cloudflare does ("An identical record already exists"): records an environment left
# behind make its next build fail, which is what the teardown before the sweep prevents.
resource "terraform_data" "record" {
  for_each = local.records

  input            = { name = each.key, path = "${local.records_path}/${each.key}.json" }
  triggers_replace = [local.records_path, each.value]

  lifecycle {
    # Fail at plan time, as Azure would with ResourceGroupNotFound, and never publish another environment's hosts.
    precondition {
      condition     = lookup(local.resource_group_tags, "nightshift-product", "") == var.product && lookup(local.resource_group_tags, "nightshift-environment", "") == var.environment
      error_message = "Resource group ${local.resource_group_path} not found, or not tagged for ${var.product}/${var.environment}: apply this environment's foundation layer first."
    }

    precondition {
      condition     = endswith(each.key, ".${local.env_zone}")
      error_message = "Every URL must be under the environment's names ${local.env_zone}; got ${each.key}."
    }
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      sleep "$SIMULATED_SECONDS"
      mkdir -p "$RECORDS_PATH"
      if [ -e "$RECORD_FILE" ]; then
        echo "RecordAlreadyExists: $RECORD_NAME is in zone $ZONE already ($RECORD_FILE): an identical record already exists" >&2
        exit 1
      fi
      printf '%s\n' "$RECORD" > "$RECORD_FILE.tmp"
      mv "$RECORD_FILE.tmp" "$RECORD_FILE"
    EOT
    environment = {
      RECORDS_PATH      = local.records_path
      RECORD_FILE       = "${local.records_path}/${each.key}.json"
      RECORD_NAME       = each.key
      ZONE              = local.zone_name
      SIMULATED_SECONDS = tostring(var.simulated_seconds)
      # owner: this resource instance; its destroy removes only its own record, never one it failed to create.
      RECORD = jsonencode({
        owner       = self.id
        name        = each.key
        type        = split(" ", each.value)[0]
        content     = split(" ", each.value)[1]
        product     = var.product
        environment = var.environment
      })
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      case "$RECORD_FILE" in
        /*/dns-zones/*/records/*.json) ;;
        *) echo "refusing to delete $RECORD_FILE: not a record of a local DNS zone" >&2; exit 1 ;;
      esac
      if grep -qF "\"owner\":\"$OWNER\"" "$RECORD_FILE" 2>/dev/null; then rm -f "$RECORD_FILE"; fi
    EOT
    environment = { RECORD_FILE = self.output.path, OWNER = self.id }
  }
}
