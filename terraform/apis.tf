# serviceusage and cloudresourcemanager are enabled during bootstrap
# (docs/deploy.md): Terraform cannot enable anything before they are on.
locals {
  services = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project = var.project_id
  service = each.value

  # Turning an API off on destroy would break anything else in the project
  # that uses it; leave that decision to the project owner.
  disable_on_destroy = false
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # Created by Google when the Pub/Sub API is enabled. Dead-lettering and OIDC
  # push run as this agent, so it needs the grants in iam.tf.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
