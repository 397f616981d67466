terraform {
  # terraform_data needs 1.4; cross-variable references in validation need 1.9.
  required_version = ">= 1.9"

  # nightshift passes -backend-config=path=<state file of this environment and step>.
  backend "local" {}
}
