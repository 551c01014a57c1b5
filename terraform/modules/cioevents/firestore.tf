# Created unless create_firestore_database is false. A project whose (default)
# database already exists must either keep the default name "cioevents" (a
# second, dedicated database) or set create_firestore_database = false; creating
# "(default)" again fails.
resource "google_firestore_database" "ledger" {
  count = var.create_firestore_database ? 1 : 0

  project     = var.project_id
  name        = var.firestore_database
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  concurrency_mode            = "OPTIMISTIC"
  app_engine_integration_mode = "DISABLED"

  # ABANDON (the provider default, spelled out): `terraform destroy` forgets
  # the database but leaves it and its ledger in the project; delete it by
  # hand if you mean to (docs/deploy.md, teardown).
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.enabled]
}

locals {
  # Every field a ledger document has (the firestore:"..." tags of the record
  # struct in shared/ledger/firestore.go; a test in internal/testsupport/tfcheck fails when
  # one is missing). The processor finds a document by its ID and never
  # queries a field, so none needs an index: Firestore's automatic
  # single-field indexes would only cost write latency and, on fields that
  # rise with time (created_at, updated_at, expire_at, lease_ms), cap the
  # collection near 500 writes/s (the sequential-index hotspot).
  ledger_fields = [
    "event_id", "state", "attempt", "lease_ms", "lease_token", "steps", "outcome",
    "created_at", "updated_at", "expire_at", "test_shift_ms",
  ]
  # The TTL field. A field has one override: its TTL policy and its index
  # exemption live in the same google_firestore_field, or two resources
  # would overwrite each other's configuration.
  ledger_ttl_field = "expire_at"
}

# One single-field index exemption per ledger field (an empty index_config
# turns off every automatic index of that field), and the TTL policy on
# expire_at: Firestore deletes a document some time (usually within a day)
# after that instant; the processor still compares expire_at with now,
# because deletion is late.
resource "google_firestore_field" "ledger" {
  for_each = toset(local.ledger_fields)

  project    = var.project_id
  database   = var.firestore_database
  collection = var.ledger_collection
  field      = each.value

  index_config {}

  dynamic "ttl_config" {
    for_each = each.value == local.ledger_ttl_field ? [1] : []
    content {}
  }

  depends_on = [google_firestore_database.ledger]
}

moved {
  from = google_firestore_field.ledger_expire_at
  to   = google_firestore_field.ledger["expire_at"]
}
