# One identity per job, each granted only what that job touches. Grants are on
# the narrowest resource the API allows; the project-level ones say why.

resource "google_service_account" "receiver" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-receiver"
  display_name = "cioevents webhook receiver (runtime)"
  description  = "Verifies Customer.io signatures and publishes to one topic."
}

resource "google_service_account" "processor" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-processor"
  display_name = "cioevents event processor (runtime)"
  description  = "Dedupes in Firestore, writes BigQuery rows, calls the Customer.io Track API."
}

resource "google_service_account" "push_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-push"
  display_name = "cioevents Pub/Sub push invoker"
  description  = "Identity in the OIDC token Pub/Sub attaches when it pushes to the processor."
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-build"
  display_name = "cioevents function build"
  description  = "Cloud Build identity that turns the source zip into the functions' images."
}

# --- Receiver -----------------------------------------------------------------

resource "google_pubsub_topic_iam_member" "receiver_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.receiver.member
}

resource "google_secret_manager_secret_iam_member" "receiver_reads_signing_keys" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.signing_keys.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.receiver.member
}

# --- Processor ----------------------------------------------------------------

# Firestore has no per-database IAM resource; the condition narrows the
# project-level grant to the ledger database.
resource "google_project_iam_member" "processor_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.processor.member

  condition {
    title       = "cioevents ledger database only"
    description = "Limits the grant to the database named by var.firestore_database."
    expression  = "resource.name == \"projects/${var.project_id}/databases/${var.firestore_database}\""
  }
}

# The processor only streams rows (tabledata.insertAll). The method's
# reference lists three permissions: bigquery.tables.updateData and
# bigquery.tables.get on the table, bigquery.datasets.get on the dataset. No
# jobs run (so no jobUser) and no row is read. Every predefined role with
# updateData also reads rows and deletes or alters tables (dataEditor at table
# level has getData, update and delete), so two small custom roles: the
# table's two permissions on the two tables, the dataset's one on the dataset.
resource "google_project_iam_custom_role" "row_inserter" {
  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_row_inserter"
  title       = "cioevents BigQuery row inserter"
  description = "Streaming inserts into the tables it is granted on; cannot read rows or change tables."
  permissions = ["bigquery.tables.get", "bigquery.tables.updateData"]

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_custom_role" "dataset_lookup" {
  project     = var.project_id
  role_id     = "${replace(var.name_prefix, "-", "_")}_dataset_lookup"
  title       = "cioevents BigQuery dataset lookup"
  description = "Reads the metadata of the dataset it is granted on (what tabledata.insertAll checks); no table, row or job."
  permissions = ["bigquery.datasets.get"]

  depends_on = [google_project_service.enabled]
}

# Dataset-level IAM through google_bigquery_dataset_iam_member rewrites the
# dataset's access list without authorized-view entries; the dataset has none
# (views.tf's views read the same dataset), and one added later must use
# google_bigquery_dataset_access instead.
resource "google_bigquery_dataset_iam_member" "processor_looks_up_dataset" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  role       = google_project_iam_custom_role.dataset_lookup.name
  member     = google_service_account.processor.member
}

resource "google_bigquery_table_iam_member" "processor_inserts_events" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  table_id   = google_bigquery_table.events.table_id
  role       = google_project_iam_custom_role.row_inserter.name
  member     = google_service_account.processor.member
}

resource "google_bigquery_table_iam_member" "processor_inserts_rejected" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.events.dataset_id
  table_id   = google_bigquery_table.rejected_events.table_id
  role       = google_project_iam_custom_role.row_inserter.name
  member     = google_service_account.processor.member
}

resource "google_secret_manager_secret_iam_member" "processor_reads_site_id" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.track_site_id.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.processor.member
}

resource "google_secret_manager_secret_iam_member" "processor_reads_api_key" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.track_api_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.processor.member
}

# --- Pub/Sub push and dead-lettering --------------------------------------------

# Gen-2 functions are Cloud Run services: run.invoker goes on the service,
# since the function resource rejects that role.
resource "google_cloud_run_v2_service_iam_member" "push_invokes_processor" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.processor.name
  role     = "roles/run.invoker"
  member   = google_service_account.push_invoker.member
}

# Pub/Sub mints the push OIDC token as its service agent.
resource "google_service_account_iam_member" "pubsub_mints_push_tokens" {
  service_account_id = google_service_account.push_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  depends_on = [google_project_service_identity.pubsub]
}

# Without these two the subscription accepts a dead-letter policy and then
# silently never dead-letters.
resource "google_pubsub_topic_iam_member" "pubsub_publishes_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent

  depends_on = [google_project_service_identity.pubsub]
}

resource "google_pubsub_subscription_iam_member" "pubsub_forwards_from_processor_sub" {
  project      = var.project_id
  subscription = google_pubsub_subscription.processor_push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent

  depends_on = [google_project_service_identity.pubsub]
}

# --- Receiver is public ---------------------------------------------------------

# Customer.io cannot mint Google identity tokens, so the receiver must accept
# unauthenticated calls; the HMAC signature check in the code is the gate.
resource "google_cloud_run_v2_service_iam_member" "public_invokes_receiver" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.receiver.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- Function build -------------------------------------------------------------

# Cloud Functions builds write logs, push images to the gcf-artifacts
# repository and read the staged source from buckets that Cloud Functions
# creates itself; none of those exist before the first deploy, so these three
# grants are project-level.
resource "google_project_iam_member" "build" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
    "roles/storage.objectAdmin",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}

resource "google_secret_manager_secret_iam_member" "processor_reads_pii_key" {
  count = length(google_secret_manager_secret.pii_key)

  project   = var.project_id
  secret_id = google_secret_manager_secret.pii_key[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.processor.member
}
