# The resource group: a directory of the local cloud. Everything the later layers create lives inside it, so deleting
# the directory (what the sweep does when the group expires) deletes the whole environment, databases included.
module "resource_group" {
  source = "../../modules/resource-group"

  name            = local.resource_group_name
  local_cloud_dir = var.local_cloud_dir
  product         = var.product
  environment     = var.environment
  tags            = var.nightshift_tags
}

# The group's resources lived in this root before the module existed: existing environments keep their state.
moved {
  from = terraform_data.this
  to   = module.resource_group.terraform_data.this
}

moved {
  from = terraform_data.tags
  to   = module.resource_group.terraform_data.tags
}
