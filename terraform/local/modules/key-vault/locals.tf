locals {
  path = "${var.resource_group_path}/key-vaults/${var.name}"
}
