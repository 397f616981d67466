locals {
  password_auth = var.authentication.mode == "password"
}
