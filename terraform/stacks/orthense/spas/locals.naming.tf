# Names derive from product + environment only, so "nightly", "pr-123" and "main" never collide and a re-run finds
# the same resources. Globally unique names get a 6-character hash of "<product>/<environment>".
locals {
  base_name    = "${var.product}-${var.environment}"
  name_hash    = substr(sha1("${var.product}/${var.environment}"), 0, 6)
  compact_name = replace(local.base_name, "-", "")
  kind         = var.nightshift_tags["nightshift-kind"]
  ephemeral    = local.kind != "persistent"

  # Resources inside the group carry the stable part of nightshift's tags (cost per environment); the group itself
  # carries all of them. nightshift-run is left out here so a re-run does not touch every resource.
  resource_tags = {
    for k, v in var.nightshift_tags : k => v
    if contains(["nightshift-managed-by", "nightshift-product", "nightshift-environment", "nightshift-kind"], k)
  }
}
