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

# Ledger documents carry expire_at as a Timestamp; Firestore deletes them some
# time (usually within a day) after that instant. The processor still compares
# expire_at with now, because deletion is late.
resource "google_firestore_field" "ledger_expire_at" {
  project    = var.project_id
  database   = var.firestore_database
  collection = var.ledger_collection
  field      = "expire_at"

  ttl_config {}

  # Nothing queries expire_at; an index on a monotonically rising timestamp
  # only costs writes and creates hotspots.
  index_config {}

  depends_on = [google_firestore_database.ledger]
}
