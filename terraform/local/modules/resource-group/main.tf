# The resource group: a directory of the local cloud. Everything the later layers create lives inside it, so deleting
# the directory (what the sweep does when the group expires) deletes the whole environment, databases included.
resource "terraform_data" "this" {
  input            = { name = var.name, path = local.path }
  triggers_replace = [local.path]

  lifecycle {
    precondition {
      condition     = lookup(var.tags, "nightshift-product", "") == var.product && lookup(var.tags, "nightshift-environment", "") == var.environment
      error_message = "nightshift_tags must name this product and environment (nightshift-product=${var.product}, nightshift-environment=${var.environment})."
    }
  }

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      mkdir -p "$RG_PATH"
      printf '%s' "$TAGS_JSON" > "$RG_PATH/tags.json.tmp"
      mv "$RG_PATH/tags.json.tmp" "$RG_PATH/tags.json"
    EOT
    environment = {
      RG_PATH   = local.path
      TAGS_JSON = jsonencode(var.tags)
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      case "$RG_PATH" in
        /*/resource-groups/rg-*) rm -rf "$RG_PATH" ;;
        *) echo "refusing to delete $RG_PATH: not a local resource group" >&2; exit 1 ;;
      esac
    EOT
    environment = {
      RG_PATH = self.output.path
    }
  }
}

# The tags change on every run (nightshift-run, nightshift-expires-at): rewrite tags.json in place, never replace
# the group (that would delete its data).
resource "terraform_data" "tags" {
  triggers_replace = [var.tags, terraform_data.this.id]

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      [ -d "$RG_PATH" ] || { echo "resource group $RG_PATH not found (swept?)" >&2; exit 1; }
      printf '%s' "$TAGS_JSON" > "$RG_PATH/tags.json.tmp"
      mv "$RG_PATH/tags.json.tmp" "$RG_PATH/tags.json"
    EOT
    environment = {
      RG_PATH   = terraform_data.this.output.path
      TAGS_JSON = jsonencode(var.tags)
    }
  }
}
