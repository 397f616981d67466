output "url" {
  description = "Public URL of the backend, e.g. \"https://api.pr-7.vao.local\"."
  value       = module.this.url
}

output "app_name" {
  description = "Resource name of the App Service."
  value       = module.this.name
}

output "descriptor_path" {
  description = "Absolute path of the backend's descriptor (site.json) in the local cloud: the smoke check reads it."
  value       = module.this.descriptor_path
}
