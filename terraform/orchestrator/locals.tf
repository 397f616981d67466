locals {
  # Globally unique names get a short hash of subscription + instance, so two instances (or two subscriptions)
  # never collide and a re-apply finds the same names.
  name_hash    = substr(sha1("${data.azurerm_client_config.current.subscription_id}/${var.instance_name}"), 0, 6)
  compact_name = replace(var.instance_name, "-", "")

  storage_account_name = "st${substr(local.compact_name, 0, 16)}${local.name_hash}"
  key_vault_name       = "kv-${substr(local.compact_name, 0, 13)}-${local.name_hash}"
  registry_name        = "acr${substr(local.compact_name, 0, 40)}${local.name_hash}"
  servicebus_name      = "sb-${var.instance_name}-${local.name_hash}"
  function_app_name    = "func-${var.instance_name}-${local.name_hash}"

  # Where the environments live: their resource groups are created at subscription scope, so this is the narrowest
  # scope for creating them. A dedicated subscription keeps nightshift away from everything else.
  environments_subscription_id = coalesce(var.environments_subscription_id, data.azurerm_client_config.current.subscription_id)
  environments_scope           = "/subscriptions/${local.environments_subscription_id}"

  # Resource providers of what the stacks create (crates/app/tests/terraform_azure.rs derives them from the stacks).
  environment_resource_providers = [
    "Microsoft.DocumentDB",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.ManagedIdentity",
    "Microsoft.OperationalInsights",
    "Microsoft.Sql",
    "Microsoft.Web",
  ]

  queues = {
    releases = {
      lock_duration       = "PT1M"
      default_message_ttl = "P1D"
    }
    steps = {
      lock_duration       = "PT5M"
      default_message_ttl = "P1D"
    }
    step-events = {
      lock_duration       = "PT1M"
      default_message_ttl = "P2D"
    }
    # Scheduled retries of webhook deliveries (the notification-retry function).
    notifications = {
      lock_duration       = "PT1M"
      default_message_ttl = "P1D"
    }
  }

  # Send-only and Listen-only SAS rules on every queue, for operators and outside publishers (nightshift signs with
  # the namespace-level nightshift-send rule instead).
  queue_rules = merge([
    for q in keys(local.queues) : {
      "${q}-send"   = { queue = q, send = true, listen = false }
      "${q}-listen" = { queue = q, send = false, listen = true }
    }
  ]...)

  containers = {
    journals = "The run journal: runs, step results and outputs, job logs (logs/<run>/<step>/<attempt>.log), environments."
    tfstate  = "Terraform state of the environments: <product>/<environment>/<layer>.tfstate (the jobs read and write it)."
    # Separate from tfstate so the jobs, which write tfstate, never see the orchestrator's state and its keys.
    orchestrator-state = "Terraform state of this configuration: nightshift/orchestrator.tfstate (operators only)."
    deployments        = "The function app's package (WEBSITE_RUN_FROM_PACKAGE)."
  }

  tags = merge(var.tags, {
    "nightshift-role"     = "orchestrator"
    "nightshift-instance" = var.instance_name
  })
}
