# Azure's naming rules, checked for the longest names nightshift allows (instance 22, product 24, environment 32
# characters, Static Web App key 10) with Terraform's own functions: `terraform init -backend=false && terraform
# test` in this module, run offline by .ci/check-terraform.sh. Limits: Azure's "naming rules and restrictions for
# Azure resources" (Key Vault 3-24, Cosmos DB 3-44, SQL server 1-63, App Service 2-60, Static Web App 1-40, Log
# Analytics 4-63, resource group 1-90).

variables {
  instance        = "nightshift-staging-abc"
  product         = "orthense-platform-abcdef"
  environment     = "feature-abcdefghijklmnopqrstuvwx"
  static_web_apps = ["pro", "patient", "backoffice"]
}

run "the_longest_names_allowed_fit_every_azure_limit" {
  command = plan

  assert {
    condition     = length(var.instance) == 22 && length(var.product) == 24 && length(var.environment) == 32
    error_message = "The fixture must use the longest instance (22), product (24) and environment (32) names."
  }
  assert {
    condition     = can(regex("^[a-z][a-z0-9-]{1,22}[a-z0-9]$", output.key_vault)) && !strcontains(output.key_vault, "--")
    error_message = "Key Vault name ${output.key_vault} (${length(output.key_vault)}) breaks 3-24 alphanumerics and single hyphens."
  }
  assert {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,42}[a-z0-9]$", output.cosmos_account))
    error_message = "Cosmos DB account name ${output.cosmos_account} (${length(output.cosmos_account)}) breaks 3-44 lowercase letters, digits, hyphens."
  }
  assert {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$", output.sql_server))
    error_message = "SQL server name ${output.sql_server} (${length(output.sql_server)}) breaks 1-63 lowercase letters, digits, hyphens."
  }
  assert {
    condition     = alltrue([for n in [output.app_accounts, output.app_medical] : can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,58}[a-zA-Z0-9]$", n))])
    error_message = "App Service names ${output.app_accounts}, ${output.app_medical} break 2-60 alphanumerics and hyphens."
  }
  assert {
    condition     = length(output.static_web_apps) == 3 && alltrue([for n in values(output.static_web_apps) : can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,38}[a-zA-Z0-9]$", n))])
    error_message = "Static Web App names ${jsonencode(output.static_web_apps)} break 1-40 alphanumerics and hyphens."
  }
  assert {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]$", output.log_analytics_workspace))
    error_message = "Log Analytics workspace name ${output.log_analytics_workspace} (${length(output.log_analytics_workspace)}) breaks 4-63."
  }
  assert {
    condition     = length(output.resource_group) <= 90
    error_message = "Resource group name ${output.resource_group} is longer than 90 characters."
  }
}

run "the_shortest_names_allowed_fit_too" {
  command = plan

  variables {
    instance    = "nsht"
    product     = "ab"
    environment = "pr"
  }

  assert {
    condition     = length(output.key_vault) >= 3 && length(output.cosmos_account) >= 3 && output.key_vault == "kv-abpr-${output.name_hash}"
    error_message = "Short names: ${output.key_vault}, ${output.cosmos_account}."
  }
}

# The review's example: a 15-character environment gave stapp-backoffice-orthense-feature-abcdefg (41 characters).
run "a_fifteen_character_environment_keeps_static_web_apps_within_40_characters" {
  command = plan

  variables {
    instance    = "nightshift"
    product     = "orthense"
    environment = "feature-abcdefg"
  }

  assert {
    condition     = length(output.static_web_apps["backoffice"]) <= 40
    error_message = "${output.static_web_apps["backoffice"]} is ${length(output.static_web_apps["backoffice"])} characters."
  }
}

run "another_instance_gets_other_global_names" {
  command = plan

  variables {
    instance = "nightshift-other"
  }

  assert {
    condition     = output.key_vault != run.the_longest_names_allowed_fit_every_azure_limit.key_vault && output.cosmos_account != run.the_longest_names_allowed_fit_every_azure_limit.cosmos_account && output.sql_server != run.the_longest_names_allowed_fit_every_azure_limit.sql_server && output.app_accounts != run.the_longest_names_allowed_fit_every_azure_limit.app_accounts
    error_message = "Two instances building the same product and environment must not share global names."
  }
}

run "the_same_inputs_give_the_same_names" {
  command = plan

  assert {
    condition     = output.key_vault == run.the_longest_names_allowed_fit_every_azure_limit.key_vault && output.name_hash == run.the_longest_names_allowed_fit_every_azure_limit.name_hash
    error_message = "Names must be deterministic: a re-run has to find the same resources."
  }
}
