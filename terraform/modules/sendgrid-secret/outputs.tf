output "name" {
  description = "Name of the secret."
  value       = var.name
}

output "resource_id" {
  description = "Versioned id of the secret (URI of its current version)."
  value       = local.secret_id
}

output "versionless_id" {
  description = "Versionless URI of the secret, for @Microsoft.KeyVault(SecretUri=...): the app follows rotations."
  value       = local.versionless_id
}
