locals {
  directory           = var.kind == "app-service" ? "sites" : "static-sites"
  path                = "${var.resource_group_path}/${local.directory}/${var.name}"
  resource_group_tags = try(jsondecode(file("${var.resource_group_path}/tags.json")), {})
  # What Azure would give the site before the custom domain: <name>.azurewebsites.net / .azurestaticapps.net.
  default_hostname = "${var.name}.${var.kind == "app-service" ? "azurewebsites" : "azurestaticapps"}.local"
  descriptor = jsonencode(merge({
    name             = var.name
    kind             = var.kind
    hostname         = var.hostname
    default_hostname = local.default_hostname
    url              = "https://${var.hostname}"
    settings         = var.settings
  }, var.runtime == "" ? {} : { runtime = var.runtime }))
}

# A "site" is a directory holding its descriptor (site.json). Re-written in place when its settings change.
resource "terraform_data" "this" {
  input            = { name = var.name, path = local.path }
  triggers_replace = [local.path, local.descriptor]

  lifecycle {
    # Fail at plan time, as Azure would with ResourceGroupNotFound, and never write into another environment's group
    # (its data would live and die with that environment). Not evaluated on destroy, so a swept group destroys fine.
    precondition {
      condition     = lookup(local.resource_group_tags, "nightshift-product", "") == var.product && lookup(local.resource_group_tags, "nightshift-environment", "") == var.environment
      error_message = "Resource group ${var.resource_group_path} not found, or not tagged for ${var.product}/${var.environment}: apply this environment's foundation layer first."
    }
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      [ -d "$RG_PATH" ] || { echo "ResourceGroupNotFound: $RG_PATH does not exist (foundation not applied, or swept)" >&2; exit 1; }
      sleep "$SIMULATED_SECONDS"
      mkdir -p "$SITE_PATH"
      printf '%s\n' "$DESCRIPTOR" > "$SITE_PATH/site.json.tmp"
      mv "$SITE_PATH/site.json.tmp" "$SITE_PATH/site.json"
    EOT
    environment = {
      RG_PATH           = var.resource_group_path
      SITE_PATH         = local.path
      SIMULATED_SECONDS = tostring(var.simulated_seconds)
      DESCRIPTOR        = local.descriptor
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = "rm -rf \"$SITE_PATH\""
    environment = { SITE_PATH = self.output.path }
  }
}
