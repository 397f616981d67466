# Names derive from instance + product + environment (terraform/modules/naming, whose tests check every Azure limit
# for the longest names allowed), so "nightly", "pr-123" and "main" never collide, two nightshift instances never
# collide on global names, and a re-run finds the same resources.
module "naming" {
  source = "../../../modules/naming"

  instance        = var.nightshift_tags["nightshift-managed-by"]
  product         = var.product
  environment     = var.environment
  static_web_apps = []
}

locals {
  base_name = "${var.product}-${var.environment}"
  kind      = var.nightshift_tags["nightshift-kind"]
  ephemeral = local.kind != "persistent"

  # Resources inside the group carry the stable part of nightshift's tags (cost per environment); the group itself
  # carries all of them. nightshift-run is left out here so a re-run does not touch every resource.
  resource_tags = {
    for k, v in var.nightshift_tags : k => v
    if contains(["nightshift-managed-by", "nightshift-product", "nightshift-environment", "nightshift-kind"], k)
  }
}
