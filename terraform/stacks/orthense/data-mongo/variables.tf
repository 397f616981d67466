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
  description = "Resource id of the environment's Key Vault, from the foundation layer ($${foundation.key_vault_id})."
  nullable    = false
}

variable "mongo_database_name" {
  type        = string
  default     = "medical"
  description = "Name of the medical-data database, e.g. \"medical\"."
  nullable    = false
}

variable "mongo_collections" {
  type = map(object({
    shard_key           = optional(string, null)
    default_ttl_seconds = optional(number, null)
    indexes = optional(map(object({
      keys   = list(string)
      unique = optional(bool, false)
    })), {})
  }))
  default = {
    patients = {
      indexes = { by_external_id = { keys = ["externalId"], unique = true } }
    }
    consultations = {
      indexes = { by_patient = { keys = ["patientId"] } }
    }
    questionnaires = {}
    documents = {
      indexes = { by_patient = { keys = ["patientId"] } }
    }
    audit = {
      default_ttl_seconds = 7776000
    }
  }
  description = "Collections of the medical database, e.g. { patients = { indexes = { by_external_id = { keys = [\"externalId\"], unique = true } } } }."
  nullable    = false
}
