# DNS records of one environment in an existing Cloudflare zone (cloudflare provider 5: cloudflare_dns_record).
# The zone itself is not managed here; the provider reads its API token from CLOUDFLARE_API_TOKEN.
resource "cloudflare_dns_record" "this" {
  for_each = var.records

  content = each.value.content
  name    = each.value.name == "@" ? var.zone_name : "${each.value.name}.${var.zone_name}"
  ttl     = each.value.proxied ? 1 : each.value.ttl
  type    = each.value.type
  zone_id = var.zone_id
  comment = coalesce(each.value.comment, "managed by nightshift (${var.comment_suffix})")
  proxied = each.value.proxied
  tags    = each.value.tags
}
