variable "resource_group_name" {
  type        = string
  description = "Resource group of the environment, from the foundation layer ($${foundation.resource_group_name}), e.g. \"rg-orthense-nightly\"."
  nullable    = false
}

variable "location" {
  type        = string
  description = "Region of the environment, from the foundation layer ($${foundation.location}), e.g. \"francecentral\"."
  nullable    = false
}

variable "key_vault_id" {
  type        = string
  description = "Resource id of the environment's Key Vault ($${foundation.key_vault_id}): it receives the generated SQL admin password (secret \"sql-admin-password\")."
  nullable    = false
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Workspace that receives the SQL audit records ($${foundation.log_analytics_workspace_id})."
  nullable    = false
}

variable "sql_database_name" {
  type        = string
  default     = "accounts"
  description = "Name of the accounts database, e.g. \"accounts\"."
  nullable    = false
}

variable "sql_admin_login" {
  type        = string
  default     = "sqladmin"
  description = "Login of the SQL administrator the seed uses (not a secret; its generated password goes to Key Vault as \"sql-admin-password\"), e.g. \"sqladmin\"."
  nullable    = false
}

variable "sql_entra_admin_login" {
  type        = string
  default     = "nightshift-jobs"
  description = "Display name of the Entra admin, e.g. \"nightshift-jobs\" (the jobs' identity) or a group such as \"sg-orthense-dba\"."
  nullable    = false
}

variable "sql_entra_admin_object_id" {
  type        = string
  default     = null
  description = "Object id of the Entra admin, e.g. a DBA group's; null: the identity running Terraform (nightshift's jobs), which the seed needs."
}
