variable "backend_url" {
  type        = string
  description = "The backend's URL: the backend step's url output, e.g. \"https://api.pr-7.vao.local\"."

  validation {
    condition     = startswith(var.backend_url, "https://")
    error_message = "backend_url must be an https:// URL: pass $${backend.url}."
  }
}

variable "frontends" {
  type = map(object({
    host_label = string
    audience   = string
  }))
  default = {
    usagers = { host_label = "usagers", audience = "organismes" }
    bo      = { host_label = "bo", audience = "administration" }
  }
  nullable    = false
  description = "The frontends, by key: host label and audience, e.g. { usagers = { host_label = \"usagers\", audience = \"organismes\" } }."
}

variable "map_tiles_url" {
  type        = string
  default     = "https://tile.openstreetmap.org"
  nullable    = false
  description = "Map tiles the browsers load (OpenStreetMap), e.g. \"https://tile.openstreetmap.org\"."
}

variable "dns_suffix" {
  type        = string
  default     = "vao.local"
  nullable    = false
  description = "Suffix of the public host names: <site>.<environment>.<dns_suffix>."
}

variable "simulated_seconds" {
  type        = number
  default     = 0.3
  nullable    = false
  description = "Seconds the local cloud sleeps to mimic creating a Static Web App. 0 to go fast."

  validation {
    condition     = var.simulated_seconds >= 0 && var.simulated_seconds <= 60
    error_message = "simulated_seconds must be between 0 and 60, e.g. 0.3."
  }
}
