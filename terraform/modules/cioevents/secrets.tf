# Only the containers live in Terraform. Values are added out of band with
# `gcloud secrets versions add` (docs/deploy.md) so they never enter state or
# plan output. A function deploy fails while its secret has no enabled
# version, so add them before the first apply reaches the functions.

resource "google_secret_manager_secret" "signing_keys" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-webhook-signing-keys"

  # Comma-separated: during a rotation it holds the new key and the old one.
  labels = { consumer = "receiver" }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret" "track_site_id" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-track-site-id"

  labels = { consumer = "processor" }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret" "track_api_key" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-track-api-key"

  labels = { consumer = "processor" }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

# The HMAC key of CIO_PII's "hash" fields: the same address always hashes the
# same way, so joins still work, and without the key no dictionary reverses
# it. Created only for a policy that hashes.
resource "google_secret_manager_secret" "pii_key" {
  count = strcontains(var.pii_policy, "hash") ? 1 : 0

  project   = var.project_id
  secret_id = "${var.name_prefix}-pii-key"

  labels = { consumer = "processor" }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
