locals {
  # A resource group of the local cloud is the directory <local_cloud_dir>/resource-groups/<name>.
  path = "${abspath(var.local_cloud_dir)}/resource-groups/${var.name}"
}
