output "urls" {
  description = "Public URL of each frontend, by key, e.g. { usagers = \"https://usagers.pr-7.vao.local\" }."
  value       = { for k, m in module.this : k => m.url }
}

output "origins" {
  description = "The frontends' URLs as a list (the backend's allowed origins)."
  value       = sort([for m in module.this : m.url])
}
