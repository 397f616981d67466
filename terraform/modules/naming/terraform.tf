terraform {
  # Built-in functions only: no provider, so `terraform test` runs offline (.ci/check-terraform.sh).
  required_version = ">= 1.9"
}
