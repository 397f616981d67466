# Application Insights: a component descriptor and a telemetry directory the local apps may write to.
resource "terraform_data" "app_insights" {
  input            = { name = local.app_insights_name, path = local.app_insights_path }
  triggers_replace = [local.app_insights_path]

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      sleep "$SIMULATED_SECONDS"
      mkdir -p "$APPI_PATH/telemetry"
      printf '%s\n' "$DESCRIPTOR" > "$APPI_PATH/component.json"
    EOT
    environment = {
      APPI_PATH         = local.app_insights_path
      SIMULATED_SECONDS = tostring(var.simulated_seconds)
      DESCRIPTOR = jsonencode({
        name               = local.app_insights_name
        resource_group     = local.resource_group_name
        instrumentation_id = local.app_insights_key
      })
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = "rm -rf \"$APPI_PATH\""
    environment = { APPI_PATH = self.output.path }
  }

  depends_on = [module.resource_group]
}
