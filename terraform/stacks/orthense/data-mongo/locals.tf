locals {
  # 7 + up to 30 + 1 + 6 <= 44 characters (Cosmos DB account names are 3 to 44, globally unique).
  cosmos_account_name = "cosmos-${trimsuffix(substr(local.base_name, 0, 30), "-")}-${local.name_hash}"
}
