variable "location" {
  type        = string
  default     = "francecentral"
  description = "Region of the orchestrator and of the jobs' container groups, e.g. \"francecentral\"."
  nullable    = false
}

variable "instance_name" {
  type        = string
  default     = "nightshift"
  description = "Name of this nightshift instance (NIGHTSHIFT_INSTANCE, the nightshift-managed-by tag), e.g. \"nightshift\" or \"nightshift-staging\"."
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,20}[a-z0-9]$", var.instance_name))
    error_message = "Use 4 to 22 lowercase letters, digits and hyphens, starting with a letter, e.g. \"nightshift\" (it goes into globally unique names)."
  }
}

variable "environments_subscription_id" {
  type        = string
  default     = null
  description = "Subscription the environments are created in, e.g. a dedicated \"00000000-0000-0000-0000-000000000000\"; null: this one."

  validation {
    condition     = var.environments_subscription_id == null || can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.environments_subscription_id))
    error_message = "Pass a subscription id (lowercase GUID), e.g. \"00000000-0000-0000-0000-000000000000\", or null."
  }
}

variable "environment_resource_actions" {
  type = list(string)
  default = [
    "Microsoft.DocumentDB/databaseAccounts/*",
    "Microsoft.DocumentDB/locations/*/read",
    "Microsoft.Sql/servers/*",
    "Microsoft.Sql/locations/*/read",
    "Microsoft.Web/serverfarms/*",
    "Microsoft.Web/sites/*",
    "Microsoft.Web/staticSites/*",
    "Microsoft.Web/certificates/*",
    "Microsoft.Web/locations/*/read",
    "Microsoft.KeyVault/vaults/*",
    "Microsoft.KeyVault/locations/*/read",
    "Microsoft.Insights/components/*",
    "Microsoft.Insights/diagnosticSettings/*",
    "Microsoft.OperationalInsights/workspaces/*",
    "Microsoft.ManagedIdentity/userAssignedIdentities/*",
    "Microsoft.Authorization/locks/*",
  ]
  description = "Control-plane actions the jobs need inside environments (what the catalog's stacks declare), e.g. add \"Microsoft.Cache/redis/*\" when a product needs Redis."
  nullable    = false

  validation {
    condition     = !anytrue([for a in var.environment_resource_actions : a == "*" || startswith(a, "Microsoft.Authorization/roleAssignments") || startswith(a, "Microsoft.Authorization/roleDefinitions")])
    error_message = "Do not grant \"*\" or role assignment/definition actions here: role assignments go through the conditioned RBAC administrator assignment."
  }

  validation {
    condition     = !anytrue([for a in var.environment_resource_actions : startswith(a, "Microsoft.Resources/") || strcontains(lower(a), "deletedvaults") || endswith(lower(a), "/register/action")])
    error_message = "Do not grant resource-group, deleted-vault (purge) or provider-registration actions to the jobs: the sweeper deletes and purges, the orchestrator's deployment registers providers."
  }
}

variable "function_plan_sku" {
  type        = string
  default     = "EP1"
  description = "Elastic Premium plan SKU of the function app, e.g. \"EP1\"."
  nullable    = false

  validation {
    condition     = contains(["EP1", "EP2", "EP3"], var.function_plan_sku)
    error_message = "Use an Elastic Premium SKU: \"EP1\", \"EP2\" or \"EP3\" (see terraform/README.md for why not Flex Consumption)."
  }
}

variable "function_max_instances" {
  type        = number
  default     = 3
  description = "Maximum instances the plan scales out to, e.g. 3."
  nullable    = false

  validation {
    condition     = var.function_max_instances >= 1 && var.function_max_instances <= 100
    error_message = "Use 1 to 100, e.g. 3."
  }
}

variable "function_package_blob_name" {
  type        = string
  default     = "nightshift-functions.zip"
  description = "Blob in the \"deployments\" container holding the function package (host.json, function folders, the nightshift binary), e.g. \"nightshift-functions-1.4.0.zip\"."
  nullable    = false

  validation {
    condition     = endswith(var.function_package_blob_name, ".zip")
    error_message = "The package must be a .zip blob, e.g. \"nightshift-functions.zip\"."
  }
}

variable "runner_image" {
  type        = string
  default     = "nightshift-runner:latest"
  description = "Repository and tag of the runner image in the registry, e.g. \"nightshift-runner:1.4.0\"."
  nullable    = false
}

variable "timer_schedule" {
  type        = string
  default     = "0 */5 * * * *"
  description = "NCRONTAB (six fields, UTC) of the timer that wakes nightshift to check schedules and expiries, e.g. \"0 */5 * * * *\"."
  nullable    = false

  validation {
    condition     = length(split(" ", var.timer_schedule)) == 6
    error_message = "Use six NCRONTAB fields (second minute hour day month day-of-week), e.g. \"0 */5 * * * *\"."
  }
}

variable "watchdog_schedule" {
  type        = string
  default     = "0 */2 * * * *"
  description = "NCRONTAB (six fields, UTC) of the job watchdog, e.g. \"0 */2 * * * *\"."
  nullable    = false

  validation {
    condition     = length(split(" ", var.watchdog_schedule)) == 6
    error_message = "Use six NCRONTAB fields (second minute hour day month day-of-week), e.g. \"0 */2 * * * *\"."
  }
}

variable "sweep_schedule" {
  type        = string
  default     = "0 */10 * * * *"
  description = "NCRONTAB (six fields, UTC) of the expiry sweep, e.g. \"0 */10 * * * *\"."
  nullable    = false

  validation {
    condition     = length(split(" ", var.sweep_schedule)) == 6
    error_message = "Use six NCRONTAB fields (second minute hour day month day-of-week), e.g. \"0 */10 * * * *\"."
  }
}

variable "servicebus_max_delivery_count" {
  type        = number
  default     = 5
  description = "Deliveries of a message before Service Bus dead-letters it, e.g. 5 (nightshift retries steps itself)."
  nullable    = false

  validation {
    condition     = var.servicebus_max_delivery_count >= 1 && var.servicebus_max_delivery_count <= 2000
    error_message = "Use 1 to 2000, e.g. 5."
  }
}

variable "servicebus_duplicate_detection_window" {
  type        = string
  default     = "PT10M"
  description = "ISO 8601 window in which a repeated MessageId is dropped, e.g. \"PT10M\"."
  nullable    = false

  validation {
    condition     = can(regex("^PT[0-9]+[MH]$", var.servicebus_duplicate_detection_window))
    error_message = "Use an ISO 8601 duration in minutes or hours, 20 seconds to 7 days, e.g. \"PT10M\"."
  }
}

variable "key_vault_default_action" {
  type        = string
  default     = "Allow"
  description = "Default network action of the vault, e.g. \"Allow\" (the function app has no virtual network; access is Entra RBAC) or \"Deny\" with private endpoints."
  nullable    = false

  validation {
    condition     = contains(["Allow", "Deny"], var.key_vault_default_action)
    error_message = "Use \"Allow\" or \"Deny\"."
  }
}

variable "key_vault_allowed_ips" {
  type        = set(string)
  default     = []
  description = "IPs or CIDRs allowed through the vault's firewall when the default action is Deny, e.g. [\"203.0.113.0/24\"]."
  nullable    = false
}

variable "operators_principal_id" {
  type        = string
  default     = null
  description = "Object id of the operators' Entra group that manages step secrets and runs nightshift from a workstation, e.g. \"00000000-0000-0000-0000-000000000000\"; null: only whoever applies."
}

variable "deployer_principal_type" {
  type        = string
  default     = "User"
  description = "Kind of the identity that applies this configuration (it gets Key Vault Secrets Officer to write servicebus-send-key), e.g. \"User\" (az login) or \"ServicePrincipal\" (a pipeline)."
  nullable    = false

  validation {
    condition     = contains(["User", "ServicePrincipal"], var.deployer_principal_type)
    error_message = "Use \"User\" or \"ServicePrincipal\"."
  }
}

variable "step_secret_names" {
  type        = set(string)
  default     = ["sendgrid-api-key", "cloudflare-api-token"]
  description = "Secrets of the orchestrator's vault that the catalog's steps name (`secrets:`), e.g. [\"sendgrid-api-key\"]: the jobs may read these, and no other (crates/app/tests/terraform_azure.rs checks the catalog against the default)."
  nullable    = false

  validation {
    condition     = alltrue([for n in var.step_secret_names : can(regex("^[0-9A-Za-z-]{1,127}$", n)) && !contains(["servicebus-send-key", "appinsights-connection-string"], n)])
    error_message = "Key Vault secret names are 1 to 127 letters, digits and hyphens; servicebus-send-key and appinsights-connection-string are written by Terraform, not step secrets."
  }
}

variable "state_version_retention_days" {
  type        = number
  default     = 30
  description = "Days an old version of a Terraform state blob is kept (roll-back window) before the lifecycle policy deletes it, e.g. 30."
  nullable    = false

  validation {
    condition     = var.state_version_retention_days >= 1 && var.state_version_retention_days <= 365
    error_message = "Use 1 to 365 days, e.g. 30."
  }
}

variable "lock_orchestrator_resource_group" {
  type        = bool
  default     = true
  description = "Put a CanNotDelete lock on rg-<instance> (the jobs cannot remove locks), e.g. true; remove it by hand before a terraform destroy."
  nullable    = false
}

variable "operators_principal_type" {
  type        = string
  default     = "User"
  description = "Kind of operators_principal_id, e.g. \"Group\" (recommended) or \"User\"."
  nullable    = false

  validation {
    condition     = contains(["User", "Group", "ServicePrincipal"], var.operators_principal_type)
    error_message = "Use \"User\", \"Group\" or \"ServicePrincipal\"."
  }
}

variable "alert_email_receivers" {
  type        = map(string)
  default     = {}
  description = "Who is mailed when messages are dead-lettered, name -> address, e.g. { platform = \"platform-team@example.com\" }."
  nullable    = false

  validation {
    condition     = alltrue([for a in values(var.alert_email_receivers) : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", a))])
    error_message = "Each value must be an e-mail address, e.g. \"platform-team@example.com\"."
  }
}

variable "log_retention_days" {
  type        = number
  default     = 90
  description = "Retention of the orchestrator's logs and telemetry, e.g. 90."
  nullable    = false
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags of every orchestrator resource, e.g. { \"cost-center\" = \"platform\" }. Never nightshift-expires-at: the sweep must not see these groups."
  nullable    = false

  validation {
    condition     = !contains(keys(var.tags), "nightshift-expires-at") && !contains(keys(var.tags), "nightshift-managed-by")
    error_message = "Remove nightshift-expires-at and nightshift-managed-by: they would make the orchestrator's own groups candidates for the sweep."
  }
}
