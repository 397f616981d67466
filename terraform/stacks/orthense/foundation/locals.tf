locals {
  # 3 + 13 + 1 + 6 = 23 characters at most: Key Vault names are 3 to 24, globally unique.
  key_vault_name = "kv-${substr(local.compact_name, 0, 13)}-${local.name_hash}"
}
