# Names of one environment's resources, from built-in functions only. Globally unique names (Key Vault, Cosmos DB,
# SQL server, App Service sites) carry a 6-character hash of "<instance>/<product>/<environment>": two nightshift
# instances building the same product and environment never collide, "nightly", "pr-123" and "main" never collide,
# and a re-run finds the same resources. Every name stays within its Azure limit for the longest instance, product
# and environment names allowed (tests/naming.tftest.hcl).
locals {
  base_name    = "${var.product}-${var.environment}"
  name_hash    = substr(sha1("${var.instance}/${var.product}/${var.environment}"), 0, 6)
  compact_name = replace(local.base_name, "-", "")
  # A prefix of base_name never ends with a hyphen (a name must not end with one, nor hold "--" before the hash).
  short_name = trimsuffix(substr(local.base_name, 0, 30), "-")
}
