# Key Vault: a directory with the vault's descriptor and one placeholder file per expected secret. Secret VALUES are
# never written by Terraform: in Azure they are set out of band and read at run time by the steps that need them.
resource "terraform_data" "this" {
  input            = { name = var.name, path = local.path }
  triggers_replace = [local.path, var.secret_names]

  provisioner "local-exec" {
    interpreter = ["/bin/sh", "-c"]
    command     = <<-EOT
      set -eu
      sleep "$SIMULATED_SECONDS"
      mkdir -p "$KV_PATH/secrets"
      printf '%s\n' "$DESCRIPTOR" > "$KV_PATH/vault.json"
      for name in $SECRET_NAMES; do
        [ -e "$KV_PATH/secrets/$name" ] || : > "$KV_PATH/secrets/$name"
      done
    EOT
    environment = {
      KV_PATH           = local.path
      SIMULATED_SECONDS = tostring(var.simulated_seconds)
      SECRET_NAMES      = join(" ", sort(tolist(var.secret_names)))
      DESCRIPTOR = jsonencode({
        name           = var.name
        resource_group = basename(var.resource_group_path)
        vault_uri      = "file://${local.path}/"
      })
    }
  }

  provisioner "local-exec" {
    when        = destroy
    interpreter = ["/bin/sh", "-c"]
    command     = "rm -rf \"$KV_PATH\""
    environment = { KV_PATH = self.output.path }
  }

}
